package lead_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
)

// errHost is a failure of the host's own work in a unit of work that also
// ran a lead operation.
var errHost = errors.New("host: own work failed")

func trainedPredictor(t *testing.T) *lead.Predictor {
	t.Helper()
	tbl := &lead.Table{Columns: []string{"source", "visits", "won"}}
	for i := range 60 {
		src := []string{"web", "referral", "ad"}[i%3]
		won := "0"
		if src == "referral" || i%7 == 0 {
			won = "1"
		}
		tbl.Rows = append(tbl.Rows, []string{src, fmt.Sprint(i % 11), won})
	}
	p, err := lead.Train(tbl, &lead.TrainConfig{Label: "won", Algorithm: lead.NaiveBayes})
	require.NoError(t, err)
	return p
}

// txForm is one Tx form of the service, run on the fixture's lead l.
type txForm struct {
	name string
	run  func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error
	// kept reports whether the form's writes are stored.
	kept func(t *testing.T, f *fixture, l *crm.Lead) bool
}

func txForms(t *testing.T) []txForm {
	p := trainedPredictor(t)
	leadChanged := func(t *testing.T, f *fixture, l *crm.Lead) bool {
		stored, err := f.store.Leads().Get(f.ctx, l.ID)
		require.NoError(t, err)
		hist, err := f.svc.History(f.ctx, l.ID, crm.PageRequest{})
		require.NoError(t, err)
		require.Equal(t, stored.Version != l.Version, len(hist.Items) == 1, "the lead and its history go together")
		return stored.Version != l.Version
	}
	return []txForm{
		{"TransitionTx", func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error {
			_, _, err := f.svc.TransitionTx(ctx, tx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted})
			return err
		}, leadChanged},
		{"ConvertTx", func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error {
			_, err := f.svc.ConvertTx(ctx, tx, lead.ConvertRequest{LeadID: l.ID, Opportunity: &lead.OpportunityDraft{}})
			return err
		}, func(t *testing.T, f *fixture, l *crm.Lead) bool {
			changed := leadChanged(t, f, l)
			require.Equal(t, changed, len(f.customers(t)) == 1)
			return changed
		}},
		{"SaveModelTx", func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error {
			return f.svc.SaveModelTx(ctx, tx, mustModel(t, benchModel()))
		}, func(t *testing.T, f *fixture, l *crm.Lead) bool {
			_, err := f.svc.LoadModel(f.ctx, "bench", 0)
			if errors.Is(err, crm.ErrNotFound) {
				return false
			}
			require.NoError(t, err)
			return true
		}},
		{"SavePredictorTx", func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error {
			return f.svc.SavePredictorTx(ctx, tx, "inbound", 1, p)
		}, func(t *testing.T, f *fixture, l *crm.Lead) bool {
			_, err := f.svc.LoadPredictor(f.ctx, "inbound", 0)
			if errors.Is(err, crm.ErrNotFound) {
				return false
			}
			require.NoError(t, err)
			return true
		}},
		{"ScoreLeadTx", func(ctx context.Context, tx crm.Tx, f *fixture, l *crm.Lead) error {
			_, err := f.svc.ScoreLeadTx(ctx, tx, lead.ScoreRequest{LeadID: l.ID, ModelID: "bench"})
			return err
		}, func(t *testing.T, f *fixture, l *crm.Lead) bool {
			scores, err := f.svc.Scores(f.ctx, l.ID)
			require.NoError(t, err)
			return len(scores) == 1
		}},
	}
}

func TestTxForms(t *testing.T) {
	t.Parallel()
	for _, form := range txForms(t) {
		// setup stores a lead and, for scoring, the model; neither writes
		// an event.
		setup := func(t *testing.T) (*fixture, *crm.Lead) {
			f := newFixture(t, nil)
			if form.name == "ScoreLeadTx" {
				require.NoError(t, f.svc.SaveModel(f.ctx, mustModel(t, benchModel())))
			}
			return f, f.lead(t)
		}

		t.Run(form.name+"CommitsWithTheCallersWork", func(t *testing.T) {
			t.Parallel()
			f, l := setup(t)
			own := crmtest.Ticket(f.ids)
			err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
				if err := tx.Tickets().Create(ctx, own); err != nil {
					return err
				}
				return form.run(ctx, tx, f, l)
			})
			require.NoError(t, err)
			require.True(t, form.kept(t, f, l))
			_, err = f.store.Tickets().Get(f.ctx, own.ID)
			require.NoError(t, err)
		})

		t.Run(form.name+"KeepsNothingWhenTheCallerFails", func(t *testing.T) {
			t.Parallel()
			f, l := setup(t)
			router := f.user(t)
			svc, err := lead.New(f.store, &lead.Config{Clock: f.clock, IDs: f.ids, Router: writingRouter{owner: router.ID, ids: f.ids, clock: f.clock}})
			require.NoError(t, err)
			f.svc = svc
			err = f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
				if err := form.run(ctx, tx, f, l); err != nil {
					return err
				}
				return errHost
			})
			require.ErrorIs(t, err, errHost)
			require.False(t, form.kept(t, f, l))
			require.Empty(t, f.events(t))
			stored, err := f.store.Users().Get(f.ctx, router.ID)
			require.NoError(t, err)
			require.Equal(t, router.Version, stored.Version, "a router's write goes too")
		})

		t.Run(form.name+"ReportsErrUnsupportedWithoutLeadPorts", func(t *testing.T) {
			t.Parallel()
			f, l := setup(t)
			err := f.store.InTx(f.ctx, func(ctx context.Context, tx crm.Tx) error {
				return form.run(ctx, portlessTx{tx}, f, l)
			})
			require.ErrorIs(t, err, crm.ErrUnsupported)
			require.ErrorContains(t, err, "lead: ")
			require.False(t, form.kept(t, f, l))
		})
	}
}
