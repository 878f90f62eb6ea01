package history_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/store/memstore"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

type fixture struct {
	store *memstore.Store
	clock *crmtest.Clock
	ids   *crmtest.IDs
	rec   *history.Recorder
}

func newFixture(t *testing.T, cfg *history.Config) *fixture {
	t.Helper()
	clock := crmtest.NewClock(t0)
	ids := crmtest.NewIDs()
	c := history.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Clock, c.IDs = clock, ids
	rec, err := history.New(&c)
	require.NoError(t, err)
	return &fixture{store: memstore.New(&memstore.Config{Clock: clock}), clock: clock, ids: ids, rec: rec}
}

var (
	alice = crmtest.SequentialID(900)
	bob   = crmtest.SequentialID(901)
)

// update stores next over old in one unit of work and records it.
func (f *fixture) update(t *testing.T, old, next *crm.Customer, actor crm.ID, op string) []crm.Change {
	t.Helper()
	var changes []crm.Change
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		if old == nil {
			if err := tx.Customers().Create(ctx, next); err != nil {
				return err
			}
		} else if err := tx.Customers().Update(ctx, next); err != nil {
			return err
		}
		var o any
		if old != nil {
			o = old
		}
		var err error
		changes, err = f.rec.Record(ctx, tx, history.Change{Record: crm.Ref{Type: crm.TypeCustomer, ID: next.ID}, Old: o, New: next, Actor: actor, Operation: op})
		return err
	}))
	return changes
}

func TestRecorderKeepsEveryChangedFieldAndAnnouncesIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := &crm.Customer{Meta: crm.Meta{ID: f.ids.NewID()}, Kind: crm.CustomerCompany, Name: "Huateng", Level: "B", Status: crm.CustomerPotential,
		Fields: crm.Fields{"credit_limit": crm.Number(decimal.RequireFromString("100000"))}}
	created := f.update(t, nil, c, alice, "")
	require.NotEmpty(t, created)
	old := c.Clone()
	next := c.Clone()
	next.Level = "A"
	next.Fields["credit_limit"] = crm.Number(decimal.RequireFromString("250000"))
	f.clock.Advance(time.Hour)
	changes := f.update(t, old, next, bob, "")
	require.Len(t, changes, 2)

	var page crm.Page[crm.HistoryEntry]
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		var err error
		page, err = history.NewReader(nil).ForRecord(ctx, tx, alice, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}, crm.PageRequest{Limit: 2})
		return err
	}))
	require.Len(t, page.Items, 2)
	require.Equal(t, "level", page.Items[0].Field, "newest first, fields in order within a change")
	require.Equal(t, "fields.credit_limit", page.Items[1].Field)
	require.Equal(t, bob, page.Items[0].ActorID)
	require.Equal(t, history.OpUpdate, page.Items[0].Operation)
	require.JSONEq(t, `"B"`, string(page.Items[0].Old))
	require.JSONEq(t, `"A"`, string(page.Items[0].New))
	require.NotEmpty(t, page.NextCursor)

	events, err := f.store.Outbox().Pending(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, events, 2)
	require.Equal(t, crm.EventType("customer.created"), events[0].Type)
	require.Equal(t, crm.EventType("customer.updated"), events[1].Type)
	var payload crm.ChangedPayload
	require.NoError(t, json.Unmarshal(events[1].Payload, &payload))
	require.Equal(t, changes, payload.Changes)
}

func TestRecorderKeepsOnlyTrackedFields(t *testing.T) {
	t.Parallel()
	f := newFixture(t, &history.Config{Tracked: map[crm.RecordType][]string{crm.TypeCustomer: {"level", "fields.*"}}})
	c := &crm.Customer{Meta: crm.Meta{ID: f.ids.NewID()}, Kind: crm.CustomerCompany, Name: "Huateng", Status: crm.CustomerPotential}
	f.update(t, nil, c, alice, "import")
	old, next := c.Clone(), c.Clone()
	next.Name = "Huateng Group"
	require.Empty(t, f.update(t, old, next, alice, ""), "a change of untracked fields writes nothing")
	old, next = next.Clone(), next.Clone()
	next.Level, next.Fields = "A", crm.Fields{"tier": crm.String("gold")}
	changes := f.update(t, old, next, alice, "")
	require.Len(t, changes, 2)
	events, err := f.store.Outbox().Pending(context.Background(), 10)
	require.NoError(t, err)
	require.Len(t, events, 1, "no event for the create of untracked fields nor the rename")
}

type hideSalary struct{}

func (hideSalary) Hidden(ctx context.Context, viewer crm.ID, rt crm.RecordType) (func(string) bool, error) {
	if viewer == alice {
		return nil, nil
	}
	return func(f string) bool { return f == "fields.salary" }, nil
}

func TestReaderMasksWhatTheViewerMayNotSeeAndPurges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	c := &crm.Customer{Meta: crm.Meta{ID: f.ids.NewID()}, Kind: crm.CustomerPerson, Name: "Wang Fang", Status: crm.CustomerPotential,
		Fields: crm.Fields{"salary": crm.Number(decimal.NewFromInt(30000))}}
	f.update(t, nil, c, alice, "")
	ref := crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
	read := func(viewer crm.ID) map[string]string {
		out := map[string]string{}
		require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
			p, err := history.NewReader(hideSalary{}).ForRecord(ctx, tx, viewer, ref, crm.PageRequest{})
			for _, e := range p.Items {
				out[e.Field] = string(e.New)
			}
			return err
		}))
		return out
	}
	require.JSONEq(t, `{"number":"30000"}`, read(alice)["fields.salary"], "a custom field keeps its typed form")
	require.Equal(t, `"***"`, read(bob)["fields.salary"])
	require.Equal(t, `"Wang Fang"`, read(bob)["name"])

	var byBob crm.Page[crm.HistoryEntry]
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		var err error
		byBob, err = history.NewReader(nil).ByActor(ctx, tx, alice, alice, t0, t0.Add(time.Minute), crm.PageRequest{})
		return err
	}))
	require.NotEmpty(t, byBob.Items)

	var purged int64
	require.NoError(t, f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		var err error
		purged, err = history.Purge(ctx, tx, t0.Add(time.Second))
		return err
	}))
	require.Equal(t, int64(len(byBob.Items)), purged)
	require.Empty(t, read(alice))

	_, err := history.NewReader(nil).ForRecord(context.Background(), f.store, alice, ref, crm.PageRequest{Cursor: "not-a-cursor"})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "page.cursor")
}

func TestRecordRefusesBadInput(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	err := f.store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		_, err := f.rec.Record(ctx, tx, history.Change{Record: crm.Ref{Type: crm.TypeCustomer}})
		return err
	})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	_, err = history.New(&history.Config{Tracked: map[crm.RecordType][]string{"": {""}}})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	_, err = history.New(&history.Config{Tracked: map[crm.RecordType][]string{crm.TypeCustomer: {"name", "owner_id"}}})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "tracked.customer[1]", "the ledger keeps ownership: one fact, one row")
}
