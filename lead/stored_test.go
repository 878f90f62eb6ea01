package lead_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/stretchr/testify/require"
)

// portlessStore hides the lead ports of the store it wraps, as a host
// adapter without lead support would.
type portlessStore struct{ crm.Store }

type portlessTx struct{ crm.Tx }

func (s portlessStore) InTx(ctx context.Context, fn func(context.Context, crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error { return fn(ctx, portlessTx{tx}) })
}

func TestServiceWithoutLeadPorts(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	l := f.lead(t)
	svc, err := lead.New(portlessStore{f.store}, &lead.Config{Clock: f.clock, IDs: f.ids})
	require.NoError(t, err)

	t.Run("TransitionReportsErrUnsupportedAndStoresNothing", func(t *testing.T) {
		_, _, err := svc.Transition(f.ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted})
		require.ErrorIs(t, err, crm.ErrUnsupported)
		stored, err := f.store.Leads().Get(f.ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, crm.LeadNew, stored.Status)
	})
	t.Run("ConvertReportsErrUnsupported", func(t *testing.T) {
		_, err := svc.Convert(f.ctx, lead.ConvertRequest{LeadID: l.ID})
		require.ErrorIs(t, err, crm.ErrUnsupported)
	})
	t.Run("ModelStorageReportsErrUnsupported", func(t *testing.T) {
		require.ErrorIs(t, svc.SaveModel(f.ctx, mustModel(t, benchModel())), crm.ErrUnsupported)
		_, err := svc.LoadModel(f.ctx, "bench", 0)
		require.ErrorIs(t, err, crm.ErrUnsupported)
	})
}

func TestServiceModels(t *testing.T) {
	t.Parallel()

	t.Run("SavesAndLoadsScoringModelVersions", func(t *testing.T) {
		f := newFixture(t, nil)
		m1 := mustModel(t, benchModel())
		require.NoError(t, f.svc.SaveModel(f.ctx, m1))
		require.NoError(t, f.svc.SaveModel(f.ctx, m1), "saving the same version again is a no-op")
		spec := m1.Spec()
		spec.Version = 2
		spec.Name = "second"
		m2, err := lead.Compile(spec)
		require.NoError(t, err)
		require.NoError(t, f.svc.SaveModel(f.ctx, m2))

		latest, err := f.svc.LoadModel(f.ctx, "bench", 0)
		require.NoError(t, err)
		require.Equal(t, 2, latest.Version())
		require.Equal(t, "second", latest.Name())
		first, err := f.svc.LoadModel(f.ctx, "bench", 1)
		require.NoError(t, err)
		require.Equal(t, m1.Spec(), first.Spec())
		leads, events := benchLeads(8)
		for i := range leads {
			require.Equal(t, m1.Score(&leads[i], events[i], t0), first.Score(&leads[i], events[i], t0))
		}
	})

	t.Run("RefusesChangingAStoredVersion", func(t *testing.T) {
		f := newFixture(t, nil)
		m1 := mustModel(t, benchModel())
		require.NoError(t, f.svc.SaveModel(f.ctx, m1))
		spec := m1.Spec()
		spec.Name = "changed"
		changed, err := lead.Compile(spec)
		require.NoError(t, err)
		require.ErrorIs(t, f.svc.SaveModel(f.ctx, changed), crm.ErrAlreadyExists)
		got, err := f.svc.LoadModel(f.ctx, "bench", 1)
		require.NoError(t, err)
		require.Equal(t, m1.Spec(), got.Spec())
	})

	t.Run("TakesTheSameModelSpelledDifferentlyAsTheSame", func(t *testing.T) {
		// A migration stores a version as the database prints it: saving
		// the same model again is still a no-op, and a changed one is not.
		f := newFixture(t, nil)
		const spelled = `{"version": 1, "id": "smb",
		  "fit": {"groups": [{"rules": [{"points": 5, "when": {"exists": true, "field": "name"}, "id": "named"}], "name": "g"}]}}`
		require.NoError(t, f.store.InTx(f.ctx, func(ctx context.Context, t crm.Tx) error {
			tx, err := lead.TxOf(t)
			if err != nil {
				return err
			}
			return tx.LeadScoringModels().Put(ctx, &lead.ModelDocument{ID: "smb", Version: 1, Data: []byte(spelled)})
		}))
		m := mustModel(t, `{"id":"smb","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"named","when":{"field":"name","exists":true},"points":5}]}]}}`)
		require.NoError(t, f.svc.SaveModel(f.ctx, m))
		spec := m.Spec()
		spec.Fit.Groups[0].Rules[0].Points = 6
		changed, err := lead.Compile(spec)
		require.NoError(t, err)
		require.ErrorIs(t, f.svc.SaveModel(f.ctx, changed), crm.ErrAlreadyExists)
	})

	t.Run("ReportsAnUnknownModel", func(t *testing.T) {
		f := newFixture(t, nil)
		_, err := f.svc.LoadModel(f.ctx, "nope", 0)
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = f.svc.LoadPredictor(f.ctx, "nope", 3)
		require.ErrorIs(t, err, crm.ErrNotFound)
	})

	t.Run("SavesAndLoadsPredictors", func(t *testing.T) {
		f := newFixture(t, nil)
		tbl := &lead.Table{Columns: []string{"source", "visits", "won"}}
		for i := range 200 {
			src := []string{"web", "referral", "ad", "event"}[i%4]
			won := "0"
			if (src == "referral" || i%7 == 0) && i%5 != 0 {
				won = "1"
			}
			tbl.Rows = append(tbl.Rows, []string{src, fmt.Sprint(i % 13), won})
		}
		p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Algorithm: lead.LogisticRegression})
		require.NoError(t, err)
		require.NoError(t, f.svc.SavePredictor(f.ctx, "inbound", 1, p))
		got, err := f.svc.LoadPredictor(f.ctx, "inbound", 0)
		require.NoError(t, err)
		row := map[string]string{"source": "referral", "visits": "4"}
		require.Equal(t, p.Score(row), got.Score(row))
		requireNilInvalid(t, f.svc.SavePredictor(f.ctx, "inbound", 0, p), "version")
		requireNilInvalid(t, f.svc.SavePredictor(f.ctx, "", 1, p), "id")
	})
}

func requireNilInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var es crm.ValidationErrors
	require.ErrorAs(t, err, &es)
	require.Contains(t, es.Fields(), field)
}

func TestServiceScoreLead(t *testing.T) {
	t.Parallel()

	t.Run("ScoresWithTheStoredModelAndKeepsTheLatestSnapshot", func(t *testing.T) {
		f := newFixture(t, nil)
		m := mustModel(t, benchModel())
		require.NoError(t, f.svc.SaveModel(f.ctx, m))
		l := f.lead(t, func(l *crm.Lead) { l.Industry, l.Region, l.CompanySize = "retail", "cn-east", 300 })
		events := []lead.Engagement{{Kind: "web_visit", At: t0.Add(-48 * time.Hour)}, {Kind: "demo_request", At: t0.Add(-24 * time.Hour)}}

		snap, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", Events: events})
		require.NoError(t, err)
		want := m.Score(l, events, t0)
		require.Equal(t, want, snap.Result())
		require.Equal(t, int64(1), snap.Version)
		require.Equal(t, 1, snap.ModelVersion)
		require.Equal(t, t0, snap.ComputedAt)

		f.clock.Advance(30 * 24 * time.Hour)
		again, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", ModelVersion: 1, Events: events})
		require.NoError(t, err)
		require.Equal(t, int64(2), again.Version)
		require.Less(t, again.Engagement, snap.Engagement, "engagement decays with the clock")

		all, err := f.svc.Scores(f.ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, []*lead.ScoreSnapshot{again}, all)
	})

	t.Run("WritesARegradedEventOnlyWhenTheGradeOrStageChanges", func(t *testing.T) {
		f := newFixture(t, nil)
		require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, benchModel())))
		l := f.lead(t, func(l *crm.Lead) { l.Industry, l.Region, l.CompanySize = "retail", "cn-east", 300 })
		events := []lead.Engagement{{Kind: "demo_request", At: t0.Add(-24 * time.Hour)}}
		regraded := func() []lead.RegradedPayload {
			t.Helper()
			pending, err := f.store.Outbox().Pending(f.ctx, 100)
			require.NoError(t, err)
			var out []lead.RegradedPayload
			for _, e := range pending {
				if e.Type != lead.EventLeadRegraded {
					continue
				}
				require.Equal(t, crm.Ref{Type: crm.TypeLead, ID: l.ID}, e.Subject)
				p, err := crm.DecodePayload[lead.RegradedPayload](e)
				require.NoError(t, err, "the payload decodes strictly")
				out = append(out, p)
			}
			return out
		}

		first, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", Events: events})
		require.NoError(t, err)
		require.Equal(t, []lead.RegradedPayload{{ModelID: "bench", ModelVersion: 1, Grade: first.Grade, Stage: first.Stage, Total: first.Total, Rose: true}}, regraded(),
			"the first snapshot announces the grade, a rise from nothing")

		_, err = f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", Events: events})
		require.NoError(t, err)
		require.Len(t, regraded(), 1, "an unchanged rescoring writes no event")

		f.clock.Advance(365 * 24 * time.Hour) // the demo request decays away
		later, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench", Events: events})
		require.NoError(t, err)
		require.NotEqual(t, first.Grade, later.Grade, "the test needs a grade change")
		got := regraded()
		require.Len(t, got, 2)
		require.Equal(t, first.Grade, got[1].PreviousGrade)
		require.Equal(t, later.Grade, got[1].Grade)
		require.False(t, got[1].Rose, "the grade fell")
	})

	t.Run("UsesEachTenantsOwnModelAndTheLatestVersion", func(t *testing.T) {
		f := newFixture(t, nil)
		model := func(version int, points float64) *lead.Model {
			return mustModel(t, fmt.Sprintf(`{"id":"smb","version":%d,"fit":{"groups":[{"name":"g","rules":[
			  {"id":"named","when":{"field":"name","exists":true},"points":%v}]}]}}`, version, points))
		}
		ctxA, ctxB := crm.WithTenant(f.ctx, "a"), crm.WithTenant(f.ctx, "b")
		require.NoError(t, f.svc.SaveModel(ctxA, model(1, 10)))
		require.NoError(t, f.svc.SaveModel(ctxB, model(1, 20)))
		la, lb := crmtest.Lead(f.ids), crmtest.Lead(f.ids)
		require.NoError(t, f.store.Leads().Create(ctxA, la))
		require.NoError(t, f.store.Leads().Create(ctxB, lb))
		score := func(ctx context.Context, l *crm.Lead) float64 {
			snap, err := f.svc.ScoreLead(ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "smb"})
			require.NoError(t, err)
			return snap.Fit
		}
		for range 2 { // the second round is served by compiled models
			require.Equal(t, 10.0, score(ctxA, la))
			require.Equal(t, 20.0, score(ctxB, lb))
		}
		require.NoError(t, f.svc.SaveModel(ctxA, model(2, 30)))
		require.Equal(t, 30.0, score(ctxA, la))
		require.Equal(t, 20.0, score(ctxB, lb))
	})

	t.Run("ReportsAnUnknownLeadOrModelAndStoresNothing", func(t *testing.T) {
		f := newFixture(t, nil)
		require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, benchModel())))
		l := f.lead(t)
		_, err := f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "other"})
		require.ErrorIs(t, err, crm.ErrNotFound)
		_, err = f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: crm.NilID, ModelID: "bench"})
		require.ErrorIs(t, err, crm.ErrNotFound)
		all, err := f.svc.Scores(f.ctx, l.ID)
		require.NoError(t, err)
		require.Empty(t, all)
	})

	t.Run("ConcurrentScoringsAllSucceedAndCountEveryVersion", func(t *testing.T) {
		f := newFixture(t, nil)
		require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, benchModel())))
		l := f.lead(t)
		const n = 8
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = f.svc.ScoreLead(f.ctx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench"})
			}()
		}
		wg.Wait()
		for _, err := range errs {
			require.NoError(t, err)
		}
		all, err := f.svc.Scores(f.ctx, l.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
		require.Equal(t, int64(n), all[0].Version)
	})
}
