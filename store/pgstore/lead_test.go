package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
)

// The lead ports' contract runs in TestConformance (storetest's
// "LeadStorage" group). This test drives lead.Service end to end on
// PostgreSQL: transitions and a conversion write their history in the
// same transaction, and a stored model scores a lead.
func TestLeadServiceOnPostgreSQL(t *testing.T) {
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	s := newStore(t, clock)
	ctx := context.Background()
	svc, err := lead.New(s, &lead.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	l := crmtest.Lead(ids)
	require.NoError(t, s.Leads().Create(ctx, l))

	_, _, err = svc.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted})
	require.NoError(t, err)
	conv, err := svc.Convert(ctx, lead.ConvertRequest{LeadID: l.ID})
	require.NoError(t, err)
	_, err = svc.Convert(ctx, lead.ConvertRequest{LeadID: l.ID})
	require.ErrorIs(t, err, crm.ErrFailedPrecondition, "converting twice is refused")
	h, err := svc.History(ctx, l.ID, crm.PageRequest{})
	require.NoError(t, err)
	require.Len(t, h.Items, 2)
	require.Equal(t, crm.LeadContacted, h.Items[0].To)
	require.Equal(t, *conv.History, *h.Items[1])

	m, err := lead.ParseModel([]byte(`{"id":"smb","version":1,"fit":{"groups":[{"name":"g","rules":[
	  {"id":"named","when":{"field":"name","exists":true},"points":5}]}]}}`))
	require.NoError(t, err)
	require.NoError(t, svc.SaveModel(ctx, m))
	snap, err := svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "smb"})
	require.NoError(t, err)
	require.Equal(t, 5.0, snap.Fit)
	require.Equal(t, int64(1), snap.Version)
	got, err := svc.Scores(ctx, l.ID)
	require.NoError(t, err)
	require.Equal(t, []*lead.ScoreSnapshot{snap}, got)
}
