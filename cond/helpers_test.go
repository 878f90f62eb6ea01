package cond_test

import (
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

func leadSchema(t testing.TB) *cond.Schema {
	t.Helper()
	s, err := cond.NewSchema(
		cond.Field{Name: "region", Kind: cond.KindString},
		cond.Field{Name: "industry", Kind: cond.KindString},
		cond.Field{Name: "company_size", Kind: cond.KindNumber},
		cond.Field{Name: "tags", Kind: cond.KindStrings},
		cond.Field{Name: "language", Kind: cond.KindString},
		cond.Field{Name: "budget", Kind: cond.KindMoney, Currency: "CNY"},
		cond.Field{Name: "email", Kind: cond.KindString},
		cond.Field{Name: "vip", Kind: cond.KindBool},
		cond.Field{Name: "owner_id", Kind: cond.KindID},
	)
	require.NoError(t, err)
	return s
}

type leadValues struct {
	region, industry, language, email string
	size                              int64
	tags                              []string
	budget                            string
	vip                               *bool
}

func lead(t testing.TB, s *cond.Schema, v leadValues) *cond.Record {
	t.Helper()
	r := s.NewRecord()
	set := func(err error) { require.NoError(t, err) }
	if v.region != "" {
		set(r.SetString("region", v.region))
	}
	if v.industry != "" {
		set(r.SetString("industry", v.industry))
	}
	if v.language != "" {
		set(r.SetString("language", v.language))
	}
	if v.email != "" {
		set(r.SetString("email", v.email))
	}
	if v.size != 0 {
		set(r.SetNumber("company_size", decimal.NewFromInt(v.size)))
	}
	if v.tags != nil {
		set(r.SetStrings("tags", v.tags...))
	}
	if v.budget != "" {
		m, err := crm.ParseMoney(v.budget)
		require.NoError(t, err)
		set(r.SetMoney("budget", m))
	}
	if v.vip != nil {
		set(r.SetBool("vip", *v.vip))
	}
	return r
}

func mustDecimal(s string) decimal.Decimal { return decimal.RequireFromString(s) }
