package kpi_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/kpi"
)

func TestRatesAndMeans(t *testing.T) {
	t.Parallel()
	require.Zero(t, kpi.LeadRow{}.ConversionRate(), "no leads: rate 0, not NaN")
	require.Zero(t, kpi.TicketRow{}.SLACompliance())
	require.Zero(t, kpi.TicketRow{}.MeanResolution())
	require.Zero(t, kpi.CustomerRow{}.RetentionRate())
	r := kpi.TicketRow{Responded: 2, ResponseMillis: 3000, Resolved: 4, ResolvedMillis: 4 * 3600_000, WithSLA: 4, SLAMet: 3,
		Rated: 5, Satisfied: 2, ScoreSum: 17}
	require.Equal(t, 1500*time.Millisecond, r.MeanFirstResponse())
	require.Equal(t, time.Hour, r.MeanResolution())
	require.InDelta(t, 0.75, r.SLACompliance(), 1e-9)
	require.InDelta(t, 0.4, r.CSAT(), 1e-9)
	require.InDelta(t, 3.4, r.MeanSatisfaction(), 1e-9)
	require.InDelta(t, 2.0/3, kpi.CustomerRow{Retained: 2, Churned: 1}.RetentionRate(), 1e-9)
	require.InDelta(t, 0.25, kpi.LeadRow{Created: 4, Converted: 1}.ConversionRate(), 1e-9)
}
