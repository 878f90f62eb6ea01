package crm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/store/memstore"
)

type layer struct{ crm.Tx }

func (l layer) Unwrap() crm.Tx { return l.Tx }

type loop struct{ crm.Tx }

func (l *loop) Unwrap() crm.Tx { return l }

func TestAsFindsAPortThroughWrappers(t *testing.T) {
	t.Parallel()
	store := memstore.New(nil)
	wrapped := layer{layer{store}}
	_, direct := crm.Tx(wrapped).(crm.HistoryTx)
	require.False(t, direct, "the wrapper hides the port from a plain assertion")
	h, ok := crm.As[crm.HistoryTx](wrapped)
	require.True(t, ok)
	require.NotNil(t, h.History())

	_, ok = crm.As[crm.HistoryTx](nil)
	require.False(t, ok)
	type nothing interface{ NoSuchPort() }
	_, ok = crm.As[nothing](wrapped)
	require.False(t, ok)
	_, ok = crm.As[nothing](&loop{store})
	require.False(t, ok, "a wrapper that wraps itself ends the search")
}
