package pgstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/pgstore"
)

// Ledger entries of schema version 13 (rows of crm_pool_ledger, each with
// its event in crm_events) become their events in migration 14: the entry
// takes the event's ID and Seq, the payload says so, and the rule snapshot
// and idempotency key move along. An entry without an event gets one that
// is already acknowledged. Migrating down rebuilds the ledger table from
// the events, with their IDs and Seqs.
func TestMigrationMakesLedgerEntriesTheirEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testPool(t)
	schema := freshSchema(t, db)
	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 13))

	ids := crmtest.NewIDs()
	at := time.Date(2026, 1, 5, 9, 0, 0, 123456000, time.UTC)
	customer, actor, poolID := ids.NewID(), ids.NewID(), ids.NewID()
	ledger, events := pgx.Identifier{schema, "crm_pool_ledger"}.Sanitize(), pgx.Identifier{schema, "crm_events"}.Sanitize()
	insertEntry := func(e *pool.Entry) {
		t.Helper()
		err := db.QueryRow(ctx, "INSERT INTO "+ledger+" (id, tenant_id, customer_id, op, from_owner, to_owner, from_pool, to_pool,"+
			" reason, rule_id, rule, actor_id, at, idempotency_key) VALUES ($1, '', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING seq",
			e.ID, e.CustomerID, string(e.Op), nullID(e.FromOwner), nullID(e.ToOwner), nullID(e.FromPool), nullID(e.ToPool),
			e.Reason, e.RuleID, nullJSON(e.Rule), nullID(e.ActorID), e.At, e.IdempotencyKey).Scan(&e.Seq)
		require.NoError(t, err)
	}
	insertEvent := func(ev crm.Event) {
		t.Helper()
		_, err := db.Exec(ctx, "INSERT INTO "+events+" (id, tenant_id, type, subject_type, subject_id, actor_id, occurred_at, payload)"+
			" VALUES ($1, '', $2, $3, $4, $5, $6, $7)", ev.ID, string(ev.Type), string(ev.Subject.Type), ev.Subject.ID, nullID(ev.ActorID), ev.OccurredAt, string(ev.Payload))
		require.NoError(t, err)
	}
	// A claim as version 13 stored it: the entry, and its event under an
	// ID of its own whose payload names the entry.
	claim := &pool.Entry{ID: ids.NewID(), CustomerID: customer, Op: pool.OpClaim, ToOwner: actor, FromPool: poolID, ActorID: actor, At: at, IdempotencyKey: "key-1"}
	insertEntry(claim)
	claimEvent, err := claim.Event()
	require.NoError(t, err)
	claimEvent.ID = ids.NewID()
	insertEvent(claimEvent)
	other := crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated, Subject: crm.Ref{Type: crm.TypeCustomer, ID: customer}, OccurredAt: at, Payload: []byte(`{"entry_id":"x"}`)}
	insertEvent(other)
	// A recycle whose entry has no event.
	recycle := &pool.Entry{ID: ids.NewID(), CustomerID: customer, Op: pool.OpRecycle, FromOwner: actor, FromPool: poolID, ToPool: poolID,
		Reason: "no_follow_up", RuleID: "r1", Rule: json.RawMessage(`{"id": "r1"}`), At: at.Add(time.Hour)}
	insertEntry(recycle)

	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	s, err := pgstore.New(db, &pgstore.Config{Schema: schema})
	require.NoError(t, err)
	var got []*pool.Entry
	require.NoError(t, s.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		got, err = tx.(pool.Tx).PoolLedger().List(ctx, customer, 0, 10)
		return err
	}))
	require.Len(t, got, 2)
	pending, err := s.Outbox().Pending(ctx, 10)
	require.NoError(t, err)
	require.Equal(t, []crm.ID{claimEvent.ID, other.ID}, []crm.ID{pending[0].ID, pending[1].ID}, "the entry without an event is not delivered now")
	require.Len(t, pending, 2)

	require.Equal(t, claimEvent.ID, got[0].ID, "the entry's ID is its event's")
	require.Equal(t, pending[0].Seq, got[0].Seq, "the entry's Seq is its event's")
	require.Equal(t, "key-1", got[0].IdempotencyKey)
	want := *claim
	want.ID, want.Seq = got[0].ID, got[0].Seq
	require.Equal(t, &want, got[0])
	p, err := crm.DecodePayload[pool.ClaimedPayload](pending[0])
	require.NoError(t, err)
	require.Equal(t, want.Payload(), p, "the payload names the event's ID and Seq")
	require.JSONEq(t, `{"entry_id":"x"}`, string(pending[1].Payload), "other events are left alone")

	require.Equal(t, recycle.ID, got[1].ID)
	require.Greater(t, got[1].Seq, got[0].Seq)
	require.JSONEq(t, `{"id":"r1"}`, string(got[1].Rule))
	want = *recycle
	want.Seq, want.Rule = got[1].Seq, got[1].Rule
	require.Equal(t, &want, got[1])
	var payload []byte
	require.NoError(t, db.QueryRow(ctx, "SELECT payload FROM "+events+" WHERE id = $1 AND acked_at IS NOT NULL", recycle.ID).Scan(&payload))
	p, err = crm.DecodePayload[pool.RecycledPayload](crm.Event{Type: pool.EventRecycled, Payload: payload})
	require.NoError(t, err, "%s", payload)
	require.Equal(t, want.Payload(), p)

	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 13))
	rows, err := db.Query(ctx, "SELECT id, seq, op, rule_id, idempotency_key, at FROM "+ledger+" ORDER BY seq")
	require.NoError(t, err)
	type oldRow struct {
		ID   crm.ID
		Seq  int64
		Op   string
		Rule string
		Key  string
		At   time.Time
	}
	back, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (oldRow, error) {
		var o oldRow
		err := r.Scan(&o.ID, &o.Seq, &o.Op, &o.Rule, &o.Key, &o.At)
		o.At = o.At.UTC()
		return o, err
	})
	require.NoError(t, err)
	require.Equal(t, []oldRow{{got[0].ID, got[0].Seq, "claim", "", "key-1", at}, {got[1].ID, got[1].Seq, "recycle", "r1", "", at.Add(time.Hour)}}, back)
}

func nullID(id crm.ID) any {
	if id == crm.NilID {
		return nil
	}
	return id
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}
