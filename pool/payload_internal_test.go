package pool

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// FuzzEventPayload checks that hand-encoded event payloads are valid JSON
// that decodes back to the entry's fields, whatever the reason and rule ID.
func FuzzEventPayload(f *testing.F) {
	f.Add("no_budget", "r1")
	f.Add(`say "hi"\`, "规则-1")
	f.Add("\x00\x1f", "\xff")
	f.Fuzz(func(t *testing.T, reason, ruleID string) {
		e := &Entry{ID: crm.UUIDv7{}.NewID(), Seq: 7, CustomerID: crm.UUIDv7{}.NewID(), Op: OpRecycle,
			FromOwner: crm.UUIDv7{}.NewID(), Reason: reason, RuleID: ruleID, At: time.Unix(1e9, 123000).UTC()}
		b := e.eventPayload()
		require.True(t, json.Valid(b), "%s", b)
		var got struct {
			EntryID  crm.ID `json:"entry_id"`
			Seq      int64  `json:"seq"`
			Reason   string `json:"reason"`
			RuleID   string `json:"rule_id"`
			FromOwn  crm.ID `json:"from_owner"`
			ToOwner  crm.ID `json:"to_owner"`
			Op       Op     `json:"op"`
			Occurred string `json:"at"`
		}
		require.NoError(t, json.Unmarshal(b, &got))
		require.Equal(t, e.ID, got.EntryID)
		require.Equal(t, e.FromOwner, got.FromOwn)
		require.Equal(t, crm.NilID, got.ToOwner)
		require.Equal(t, OpRecycle, got.Op)
		want, _ := json.Marshal(reason)
		var wantReason string
		require.NoError(t, json.Unmarshal(want, &wantReason))
		require.Equal(t, wantReason, got.Reason)
	})
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
