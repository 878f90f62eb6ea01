package pool

import (
	"encoding/json"
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
// made final by [SetPayloadSeq] is the one encoded with its Seq.
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
	spliced, err := SetPayloadSeq(zero.appendJSON(nil, nil), p.Seq)
	require.NoError(t, err)
	require.Equal(t, string(b), string(spliced))
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

func TestSetPayloadSeqRefusesOtherPayloads(t *testing.T) {
	t.Parallel()
	good := (&EntryPayload{EntryID: crm.UUIDv7{}.NewID()}).appendJSON(nil, nil)
	for _, b := range [][]byte{nil, []byte(`{}`), good[:PayloadSeqOffset+1], (&EntryPayload{Seq: 5}).appendJSON(nil, nil),
		[]byte(`{"entry_xx":"00000000-0000-0000-0000-000000000000","seq":0,"at":""}`)} {
		_, err := SetPayloadSeq(b, 1)
		require.ErrorIs(t, err, crm.ErrInvalidArgument, "%s", b)
	}
	_, err := SetPayloadSeq(good, 1)
	require.NoError(t, err)
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
