package pool_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
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

func TestPoolsRefuseTextNoStoreCouldHold(t *testing.T) {
	t.Parallel()
	valid := func() *pool.Pool {
		return &pool.Pool{ID: crmtest.SequentialID(1), Name: "East", Members: pool.Members{All: true}}
	}
	for _, tc := range []struct {
		name  string
		edit  func(p *pool.Pool)
		field string
	}{
		{"NULInTheName", func(p *pool.Pool) { p.Name = "East\x00" }, "name"},
		{"NULInAnEntryValue", func(p *pool.Pool) {
			p.Entry = cond.Ptr(cond.In("region", "East\x00"))
		}, "entry.in[0]"},
		{"NULInAHiddenCustomField", func(p *pool.Pool) { p.HiddenFields = []string{"fields.a\x00b"} }, "hidden_fields[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := valid()
			require.NoError(t, p.Validate())
			tc.edit(p)
			err := p.Validate()
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var all crm.ValidationErrors
			require.ErrorAs(t, err, &all)
			require.Contains(t, all.Fields(), tc.field)
		})
	}
}
