package workflow_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

// uid returns a fixed ID whose order follows n.
func uid(n int) crm.ID {
	var id crm.ID
	id[0] = 0x01
	id[6] = 0x70
	id[8] = 0x80
	id[14] = byte(n >> 8)
	id[15] = byte(n)
	return id
}

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

func officeCalendar(t testing.TB) *calendar.Calendar {
	t.Helper()
	day := []calendar.Span{{Start: "09:00", End: "18:00"}}
	c, err := calendar.New(&calendar.Spec{Name: "office", TimeZone: "Asia/Shanghai", Week: map[string][]calendar.Span{
		"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day,
	}})
	require.NoError(t, err)
	return c
}

// monday10 is a Monday at 10:00 in Shanghai: everybody on duty.
var monday10 = time.Date(2026, 6, 1, 2, 0, 0, 0, time.UTC)

func decimalOf(t testing.TB, s string) decimal.Decimal {
	t.Helper()
	d, err := decimal.NewFromString(s)
	require.NoError(t, err)
	return d
}
