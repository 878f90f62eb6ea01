package memstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/kpi"
	"github.com/crmkit/crmkit/store/memstore"
)

// BenchmarkKPILeads1M computes lead conversion and first follow-up by
// month and source over a year of 1,000,000 leads (300,000 activities
// about them), as pgstore's benchmark of the same name does.
func BenchmarkKPILeads1M(b *testing.B) {
	ctx := context.Background()
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := crmtest.NewClock(from)
	s := memstore.New(&memstore.Config{Clock: clock})
	ids := crmtest.NewIDs()
	sources := []string{"web_form", "trade_fair", "referral", "ads"}
	for i := range 1_000_000 {
		clock.Set(from.Add(time.Duration(i%525600) * time.Minute))
		l := &crm.Lead{Meta: crm.Meta{ID: ids.NewID()}, Name: "Lead", Source: sources[i%4]}
		if i%5 == 0 {
			l.Status, l.ConvertedCustomerID = crm.LeadConverted, ids.NewID()
		}
		require.NoError(b, s.Leads().Create(ctx, l))
		if i%10 < 3 {
			a := &crm.Activity{Meta: crm.Meta{ID: ids.NewID()}, Kind: crm.ActivityCall, Subject: crm.Ref{Type: crm.TypeLead, ID: l.ID},
				ActorID: l.ID, OccurredAt: l.CreatedAt.Add(3 * time.Hour)}
			require.NoError(b, s.Activities().Create(ctx, a))
		}
	}
	svc, err := kpi.New(s)
	require.NoError(b, err)
	none := &crm.DataScope{}
	req := kpi.Request{Period: crm.Period{From: from, To: from.AddDate(1, 0, 0), Bucket: crm.BucketMonth},
		Scope: kpi.Scopes{Customers: none, Tickets: none}}
	b.ReportAllocs()
	for b.Loop() {
		r, err := svc.Report(ctx, req)
		require.NoError(b, err)
		require.NotEmpty(b, r.Leads)
	}
}
