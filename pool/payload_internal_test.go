package pool

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// FuzzEventPayload guards the hand-written payload encoder against
// encoding/json: its bytes are exactly what encoding/json writes for the
// [EntryPayload]; they decode strictly back into an equal struct, which
// encodes to the same bytes (for valid UTF-8: encoding/json writes invalid
// bytes as U+FFFD, so those cannot round-trip); and a payload with seq 0
// whose 0 at PayloadSeqOffset is replaced by the Seq, as pgstore does in
// SQL, is the one encoded with its Seq.
func FuzzEventPayload(f *testing.F) {
	f.Add("no_budget", "r1", "claim", int64(7), int64(123000), true)
	f.Add(`say "hi"\`, "规则-1", "recycle", int64(0), int64(0), false)
	f.Add("\x00\x1f", "\xff", "", int64(-1), int64(999999999), true)
	f.Add("<b>&amp;</b>", "\u2028\u2029", "合并", int64(1<<62), int64(1), false)
	f.Fuzz(func(t *testing.T, reason, ruleID, op string, seq, nanos int64, ids bool) {
		p := EntryPayload{EntryID: crm.UUIDv7{}.NewID(), Seq: seq, CustomerID: crm.UUIDv7{}.NewID(), Op: Op(op),
			Reason: reason, RuleID: ruleID, At: time.Unix(1e9, nanos%1e9).UTC()}
		if ids {
			p.FromOwner, p.ToOwner, p.FromPool, p.ToPool, p.ActorID = crm.UUIDv7{}.NewID(), crm.UUIDv7{}.NewID(), crm.UUIDv7{}.NewID(), crm.UUIDv7{}.NewID(), crm.UUIDv7{}.NewID()
		}
		checkPayloadRoundTrip(t, p)
	})
}

func checkPayloadRoundTrip(t *testing.T, p EntryPayload) {
	t.Helper()
	b := p.appendJSON(nil, nil)
	want, err := json.Marshal(p)
	require.NoError(t, err)
	require.Equal(t, string(want), string(b), "fast encoder differs from encoding/json")
	at := p.At.AppendFormat(nil, time.RFC3339Nano)
	require.Equal(t, string(b), string(p.appendJSON(nil, at)), "with a preformatted time")

	got, err := crm.DecodePayload[ClaimedPayload](crm.Event{Type: EventClaimed, Payload: b})
	require.NoError(t, err, "%s", b)
	if utf8.ValidString(p.Reason) && utf8.ValidString(p.RuleID) && utf8.ValidString(string(p.Op)) {
		require.Equal(t, p, got)
		again, err := json.Marshal(got)
		require.NoError(t, err)
		require.Equal(t, string(b), string(again))
	}

	zero := p
	zero.Seq = 0
	z := zero.appendJSON(nil, nil)
	require.Equal(t, `","seq":0,`, string(z[PayloadSeqOffset-len(`","seq":`):PayloadSeqOffset+2]))
	spliced := string(z[:PayloadSeqOffset]) + strconv.FormatInt(p.Seq, 10) + string(z[PayloadSeqOffset+1:])
	require.Equal(t, string(b), spliced)
}

// TestEventPayloadRoundTrip runs the round trip over one payload of every
// ledger operation as the Service writes it.
func TestEventPayloadRoundTrip(t *testing.T) {
	t.Parallel()
	ids := crm.UUIDv7{}
	at := time.Date(2025, 3, 1, 9, 30, 0, 123456000, time.UTC)
	for op, typ := range eventOf {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			e := &Entry{ID: ids.NewID(), TenantID: "t1", Seq: 42, CustomerID: ids.NewID(), Op: op, ToOwner: ids.NewID(),
				FromPool: ids.NewID(), ActorID: ids.NewID(), At: at.In(time.FixedZone("CST", 8*3600)), IdempotencyKey: "k",
				Rule: json.RawMessage(`{"id":"r1"}`)}
			switch op {
			case OpRecycle:
				e.ToOwner, e.FromOwner, e.ToPool, e.ActorID, e.Reason, e.RuleID = crm.NilID, ids.NewID(), e.FromPool, crm.NilID, "no_follow_up", "r1"
			case OpRelease:
				e.Reason = "no_budget & <wrong> contact"
			}
			p := e.Payload()
			require.Equal(t, time.UTC, p.At.Location())
			checkPayloadRoundTrip(t, p)
		})
	}
}

// An entry's event has the entry's ID, Seq, tenant, actor and time, the
// type of its operation and the entry's payload; an entry the ledger
// refuses has none.
func TestEntryEventIsTheEntry(t *testing.T) {
	t.Parallel()
	ids := crm.UUIDv7{}
	e := &Entry{ID: ids.NewID(), TenantID: "t1", Seq: 9, CustomerID: ids.NewID(), Op: OpRelease, FromOwner: ids.NewID(), ToPool: ids.NewID(),
		ActorID: ids.NewID(), Reason: "no_budget", At: time.Date(2025, 3, 1, 9, 30, 0, 0, time.UTC), IdempotencyKey: "k", Rule: json.RawMessage(`{}`)}
	ev, err := e.Event()
	require.NoError(t, err)
	require.Equal(t, crm.Event{ID: e.ID, TenantID: "t1", Seq: 9, Type: EventReleased, Subject: crm.Ref{Type: crm.TypeCustomer, ID: e.CustomerID},
		ActorID: e.ActorID, OccurredAt: e.At, Payload: ev.Payload}, ev)
	got, err := crm.DecodePayload[ReleasedPayload](ev)
	require.NoError(t, err)
	require.Equal(t, e.Payload(), got)

	e.Op = "teleport"
	_, err = e.Event()
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "entry.op", ve.Field)
}

func FuzzParseLimits(f *testing.F) {
	f.Add([]byte(`[{"kind":"owned_customers","max":3,"count_dealt":true}]`))
	f.Add([]byte(`[{"kind":"locked_customers","max":-1}]`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		ls, err := ParseLimits(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		for _, l := range ls {
			require.GreaterOrEqual(t, l.Max, 0)
			require.NotEqual(t, DailyClaims, l.Kind)
		}
	})
}
