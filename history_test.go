package crmkit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/ticket"
)

// historyWorld is a CRM in memory with one department, a rep who sees
// everything and an analyst from whom a policy hides phone numbers.
type historyWorld struct {
	ctx     context.Context
	clock   *crmtest.Clock
	ids     *crmtest.IDs
	store   *memstore.Store
	crm     *crmkit.CRM
	rep     *crm.User
	analyst *crm.User
}

func newHistoryWorld(t *testing.T, cfg *crmkit.Config) *historyWorld {
	t.Helper()
	w := &historyWorld{ctx: context.Background(), clock: crmtest.NewClock(time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)), ids: crmtest.NewIDs()}
	w.store = memstore.New(&memstore.Config{Clock: w.clock})
	dept := crmtest.Department(w.ids, "Sales", crm.NilID)
	require.NoError(t, w.store.Departments().Create(w.ctx, dept))
	w.rep = crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"rep"} })
	w.analyst = crmtest.User(w.ids, func(u *crm.User) { u.DepartmentID, u.Roles = dept.ID, []string{"analyst"} })
	for _, u := range []*crm.User{w.rep, w.analyst} {
		require.NoError(t, w.store.Users().Create(w.ctx, u))
	}
	policy, err := permission.Load([]byte(`{
	  "record_types": [{"name": "customer", "fields": ["name", "phone", "level"]}, {"name": "lead"}, {"name": "contact"}],
	  "roles": [
	    {"name": "rep", "rules": [
	      {"id": "rep.customers", "record_type": "customer", "actions": ["create", "view", "edit", "claim"], "scope": "all"},
	      {"id": "rep.leads", "record_type": "lead", "actions": ["create", "view", "edit"], "scope": "all"},
	      {"id": "rep.contacts", "record_type": "contact", "actions": ["create", "view", "edit"], "scope": "all"}]},
	    {"name": "analyst", "rules": [{"id": "analyst.view", "record_type": "customer", "actions": ["view"], "scope": "all"}],
	     "fields": [{"record_type": "customer", "field": "phone", "access": "hidden"}]}]
	}`), []*crm.Department{dept}, nil)
	require.NoError(t, err)
	c := crmkit.Config{}
	if cfg != nil {
		c = *cfg
	}
	c.Clock, c.IDs, c.Permissions = w.clock, w.ids, policy
	w.crm, err = crmkit.New(w.store, &c)
	require.NoError(t, err)
	return w
}

func (w *historyWorld) customer(t *testing.T) *crm.Customer {
	t.Helper()
	res, err := w.crm.CreateCustomer(w.ctx, crmkit.CreateCustomerRequest{Actor: w.rep.ID,
		Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "北京华腾科技有限公司", Phone: "13800138000", Level: "B"}})
	require.NoError(t, err)
	return res.Customer
}

func (w *historyWorld) history(t *testing.T, viewer crm.ID, ref crm.Ref) []*crm.HistoryEntry {
	t.Helper()
	page, err := w.crm.History.ForRecord(w.ctx, w.crm.Store(), viewer, ref, crm.PageRequest{Limit: crm.MaxPageLimit})
	require.NoError(t, err)
	return page.Items
}

func (w *historyWorld) pending(t *testing.T) []crm.Event {
	t.Helper()
	evs, err := w.store.Outbox().Pending(w.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	return evs
}

func raw(v string) json.RawMessage { return json.RawMessage(v) }

func TestCRMRecordsEveryWrite(t *testing.T) {
	t.Parallel()
	t.Run("AnUpdateKeepsOneRowAFieldAndItsChangeEvent", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		c := w.customer(t)
		ref := crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
		w.clock.Advance(time.Hour)
		c.Level, c.Phone = "A", "13900139000"
		c.Fields = map[string]crm.FieldValue{"credit_limit": crm.Number(decimal.NewFromInt(80000))}
		_, err := w.crm.UpdateCustomer(w.ctx, crmkit.UpdateCustomerRequest{Customer: c, Actor: w.rep.ID})
		require.NoError(t, err)

		entries := w.history(t, w.rep.ID, ref)
		var updated []string
		for _, e := range entries {
			if e.Operation == "update" {
				updated = append(updated, e.Field)
				require.Equal(t, w.rep.ID, e.ActorID)
				require.Equal(t, w.clock.Now(), e.At)
			}
		}
		require.ElementsMatch(t, []string{"fields.credit_limit", "level", "phone"}, updated)
		require.Equal(t, "update", entries[0].Operation, "newest first")

		evs := w.pending(t)
		last := evs[len(evs)-1]
		require.Equal(t, crm.EventCustomerUpdated, last.Type)
		require.Equal(t, w.rep.ID, last.ActorID)
		p, err := crm.DecodePayload[crm.ChangedPayload](last)
		require.NoError(t, err)
		require.Equal(t, "update", p.Operation)
		require.Equal(t, []crm.Change{
			{Field: "fields.credit_limit", New: raw(`{"number":"80000"}`)},
			{Field: "level", Old: raw(`"B"`), New: raw(`"A"`)},
			{Field: "phone", Old: raw(`"13800138000"`), New: raw(`"13900139000"`)},
		}, p.Changes)
	})
	t.Run("ARolledBackUnitOfWorkKeepsNeitherHistoryNorEvent", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		c := w.customer(t)
		before, events := len(w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: c.ID})), len(w.pending(t))
		errHost := errors.New("the host's own write failed")
		err := w.crm.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) error {
			c.Level = "A"
			if _, err := w.crm.UpdateCustomerTx(ctx, tx, crmkit.UpdateCustomerRequest{Customer: c, Actor: w.rep.ID}); err != nil {
				return err
			}
			return errHost
		})
		require.ErrorIs(t, err, errHost)
		require.Len(t, w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}), before)
		require.Len(t, w.pending(t), events)
	})
	t.Run("AClaimIsTheLedgersNotTheHistorys", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		p := &pool.Pool{ID: w.ids.NewID(), Name: "East", Members: pool.Members{All: true}}
		require.NoError(t, w.crm.Pools.CreatePool(w.ctx, p))
		c := w.customer(t)
		_, err := w.crm.Pools.Enter(w.ctx, pool.EnterRequest{CustomerID: c.ID, PoolID: p.ID})
		require.NoError(t, err)
		ref := crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
		before := len(w.history(t, w.rep.ID, ref))
		_, err = w.crm.Pools.Claim(w.ctx, pool.ClaimRequest{Actor: w.rep.ID, CustomerID: c.ID})
		require.NoError(t, err)
		require.Len(t, w.history(t, w.rep.ID, ref), before, "one fact, one row: the ledger entry")
		evs := w.pending(t)
		require.Equal(t, pool.EventClaimed, evs[len(evs)-1].Type)
	})
	t.Run("AConversionRecordsItsRecordsInItsOperation", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		l := crmtest.Lead(w.ids, func(l *crm.Lead) { l.OwnerID, l.Status = w.rep.ID, crm.LeadSQL })
		require.NoError(t, w.crm.Store().Leads().Create(w.ctx, l))
		conv, err := w.crm.Leads.Convert(w.ctx, lead.ConvertRequest{LeadID: l.ID, Actor: w.rep.ID})
		require.NoError(t, err)
		for _, ref := range []crm.Ref{{Type: crm.TypeCustomer, ID: conv.Customer.ID}, {Type: crm.TypeContact, ID: conv.Contact.ID}} {
			entries := w.history(t, w.rep.ID, ref)
			require.NotEmpty(t, entries, "%s", ref.Type)
			for _, e := range entries {
				require.Equal(t, "convert", e.Operation, "%s %s", ref.Type, e.Field)
				require.Equal(t, w.rep.ID, e.ActorID)
			}
		}
		var ops []string
		for _, e := range w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeLead, ID: l.ID}) {
			ops = append(ops, e.Operation+" "+e.Field)
		}
		require.Contains(t, ops, "convert status")
		require.Contains(t, ops, "create name", "the lead's own creation, through the CRM's store")
	})
	t.Run("TheHostNamesItsOwnOperation", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		ctx := crm.WithActor(w.ctx, crm.NilID, "import")
		res, err := w.crm.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: &crm.Customer{Kind: crm.CustomerCompany, Name: "上海远航物流有限公司"}})
		require.NoError(t, err)
		for _, e := range w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: res.Customer.ID}) {
			require.Equal(t, "import", e.Operation)
			require.Equal(t, crm.NilID, e.ActorID)
		}
	})
	t.Run("AViewerSeesHiddenFieldsMasked", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		c := w.customer(t)
		c.Phone, c.Level = "13900139000", "A"
		_, err := w.crm.UpdateCustomer(w.ctx, crmkit.UpdateCustomerRequest{Customer: c, Actor: w.rep.ID})
		require.NoError(t, err)
		ref := crm.Ref{Type: crm.TypeCustomer, ID: c.ID}
		for _, tc := range []struct {
			name         string
			viewer       crm.ID
			phone, level json.RawMessage
		}{
			{"the rep sees the number", w.rep.ID, raw(`"13900139000"`), raw(`"A"`)},
			{"the analyst does not", w.analyst.ID, history.Masked, raw(`"A"`)},
			{"an unknown viewer sees nothing", w.ids.NewID(), history.Masked, history.Masked},
		} {
			t.Run(tc.name, func(t *testing.T) {
				seen := 0
				for _, e := range w.history(t, tc.viewer, ref) {
					switch {
					case e.Operation != "update":
					case e.Field == "phone":
						require.Equal(t, tc.phone, e.New)
						seen++
					case e.Field == "level":
						require.Equal(t, tc.level, e.New)
						seen++
					}
				}
				require.Equal(t, 2, seen)
			})
		}
	})
	t.Run("TicketsAreRecordedToo", func(t *testing.T) {
		w := newHistoryWorld(t, nil)
		c := w.customer(t)
		tk, err := w.crm.Tickets.Create(w.ctx, ticket.CreateRequest{Actor: w.rep.ID,
			Ticket: &crm.Ticket{CustomerID: c.ID, Subject: "The invoice is wrong"}})
		require.NoError(t, err)
		entries := w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeTicket, ID: tk.ID})
		require.NotEmpty(t, entries)
		for _, e := range entries {
			require.Equal(t, w.rep.ID, e.ActorID)
		}
		var types []crm.EventType
		for _, e := range w.pending(t) {
			types = append(types, e.Type)
		}
		require.Contains(t, types, crm.EventTicketCreated)
		require.Contains(t, types, ticket.EventTicketRaised)
	})
	t.Run("NoHistoryKeepsOnlyTheDomainsEvents", func(t *testing.T) {
		w := newHistoryWorld(t, &crmkit.Config{NoHistory: true})
		require.Nil(t, w.crm.History)
		c := w.customer(t)
		c.Level = "A"
		_, err := w.crm.UpdateCustomer(w.ctx, crmkit.UpdateCustomerRequest{Customer: c, Actor: w.rep.ID})
		require.NoError(t, err)
		for _, e := range w.pending(t) {
			require.False(t, e.Type.IsChange(), "%s", e.Type)
		}
	})
	t.Run("AStoreWithoutHistoryIsNamed", func(t *testing.T) {
		_, err := crmkit.New(noHistory{memstore.New(nil)}, nil)
		require.ErrorIs(t, err, crm.ErrUnsupported)
		require.ErrorContains(t, err, "crm.HistoryTx")
		_, err = crmkit.New(noHistory{memstore.New(nil)}, &crmkit.Config{NoHistory: true})
		require.NoError(t, err)
	})
	t.Run("ABadTrackedFieldIsNamed", func(t *testing.T) {
		cfg := &crmkit.Config{}
		cfg.History.Tracked = map[crm.RecordType][]string{crm.TypeCustomer: {"owner_id"}}
		_, err := crmkit.New(memstore.New(nil), cfg)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "tracked.customer[0]")
	})
}

// noHistory is a store whose units of work have the ports of pools, leads
// and dedupe, but no history.
type noHistory struct{ *memstore.Store }

func (s noHistory) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return s.Store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return fn(ctx, noHistoryTx{Tx: tx, p: tx.(pool.Tx), l: tx.(lead.Tx), d: tx.(dedupe.Tx)})
	})
}

type noHistoryTx struct {
	crm.Tx
	p pool.Tx
	l lead.Tx
	d dedupe.Tx
}

func (t noHistoryTx) Pools() pool.Pools                  { return t.p.Pools() }
func (t noHistoryTx) PoolHoldings() pool.Holdings        { return t.p.PoolHoldings() }
func (t noHistoryTx) PoolLedger() pool.Ledger            { return t.p.PoolLedger() }
func (t noHistoryTx) PoolCounters() pool.Counters        { return t.p.PoolCounters() }
func (t noHistoryTx) PoolRequests() pool.Requests        { return t.p.PoolRequests() }
func (t noHistoryTx) LeadHistory() lead.HistoryStore     { return t.l.LeadHistory() }
func (t noHistoryTx) LeadScores() lead.ScoreStore        { return t.l.LeadScores() }
func (t noHistoryTx) LeadScoringModels() lead.ModelStore { return t.l.LeadScoringModels() }
func (t noHistoryTx) LeadPredictors() lead.ModelStore    { return t.l.LeadPredictors() }
func (t noHistoryTx) DedupeKeys() dedupe.KeyStore        { return t.d.DedupeKeys() }

// TestConcurrentEditsKeepAGaplessHistory edits one customer from many
// goroutines, each retrying on a version conflict: every edit that
// commits has exactly its history row, and the rows chain, each old value
// the previous row's new one.
func TestConcurrentEditsKeepAGaplessHistory(t *testing.T) {
	t.Parallel()
	w := newHistoryWorld(t, nil)
	c := w.customer(t)
	const workers, edits = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for g := range workers {
		wg.Go(func() {
			for i := range edits {
				for {
					cur, err := w.crm.Store().Customers().Get(w.ctx, c.ID)
					if err != nil {
						errs <- err
						return
					}
					cur.Address = fmt.Sprintf("worker %d edit %d", g, i)
					_, err = w.crm.UpdateCustomer(w.ctx, crmkit.UpdateCustomerRequest{Customer: cur, Actor: w.rep.ID})
					if errors.Is(err, crm.ErrConflict) {
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var chain []*crm.HistoryEntry
	for _, e := range w.history(t, w.rep.ID, crm.Ref{Type: crm.TypeCustomer, ID: c.ID}) {
		if e.Field == "address" {
			chain = append(chain, e)
		}
	}
	require.Len(t, chain, workers*edits, "one row an edit")
	for i := 0; i+1 < len(chain); i++ { // newest first
		require.JSONEq(t, string(chain[i+1].New), string(chain[i].Old), "row %d follows row %d", i, i+1)
	}
	require.Nil(t, chain[len(chain)-1].Old, "the first edit set an empty address")
	stored, err := w.store.Customers().Get(w.ctx, c.ID)
	require.NoError(t, err)
	require.JSONEq(t, string(chain[0].New), fmt.Sprintf("%q", stored.Address), "the newest row is the stored value")
}
