package pool_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// The pool loaders decode with crm.DecodeStrict: a key repeated in one
// object is refused with its path, never resolved to the last value.
func TestLoadersRefuseARepeatedKey(t *testing.T) {
	t.Parallel()
	_, err := pool.ParsePool([]byte(`{"name":"East","members":{"all":true,"all":false}}`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "members.all: key repeated")
	_, err = pool.ParseLimits([]byte(`[{"kind":"owned_customers","max":5,"max":500}]`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "[0].max: key repeated")
}
