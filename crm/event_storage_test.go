package crm_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

func TestCompactJSON(t *testing.T) {
	require.Nil(t, crm.CompactJSON(nil))
	require.Equal(t, `{"a":[1,2],"b":"x y"}`, string(crm.CompactJSON(json.RawMessage("{ \"a\" : [1, 2],\n \"b\": \"x y\" }"))))
	bad := json.RawMessage(`{"a":`)
	got := crm.CompactJSON(bad)
	require.Equal(t, string(bad), string(got), "invalid JSON comes back unchanged")
	got[0] = 'x'
	require.Equal(t, byte('{'), bad[0], "the result never aliases the input")
}

func TestStorableEvent(t *testing.T) {
	ids := crmtest.NewIDs()
	at := time.Date(2026, 1, 5, 17, 4, 5, 123456789, time.FixedZone("CST", 8*3600))
	e := &crm.Event{ID: ids.NewID(), Type: "customer.claimed", Subject: crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()},
		OccurredAt: at, Payload: json.RawMessage(`{ "seq" : 1 }`)}
	t.Run("AppliesTenantStorageTimeAndCompactPayload", func(t *testing.T) {
		got, err := crm.StorableEvent(crm.WithTenant(context.Background(), "a"), e)
		require.NoError(t, err)
		require.Equal(t, "a", got.TenantID)
		require.Equal(t, crm.StorageTime(at), got.OccurredAt)
		require.Equal(t, `{"seq":1}`, string(got.Payload))
		require.Equal(t, "", e.TenantID, "the caller's event is not changed")
		require.Equal(t, `{ "seq" : 1 }`, string(e.Payload))
	})
	t.Run("RefusesAnInvalidEventByField", func(t *testing.T) {
		bad := *e
		bad.Payload = json.RawMessage(`{"seq":`)
		_, err := crm.StorableEvent(context.Background(), &bad)
		var ve crm.ValidationErrors
		require.ErrorAs(t, err, &ve)
		require.Contains(t, ve.Fields(), "payload")
	})
	t.Run("RefusesANilEvent", func(t *testing.T) {
		_, err := crm.StorableEvent(context.Background(), nil)
		var ve *crm.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "event", ve.Field)
	})
}
