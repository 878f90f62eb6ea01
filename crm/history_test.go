package crm_test

import (
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestDiffListsChangedBusinessFields(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	old := &crm.Customer{Meta: crm.Meta{ID: crm.ID{1}, Version: 3, UpdatedAt: at}, Name: "Huateng", Level: "B", Region: "cn-east",
		Fields: crm.Fields{"budget": crm.Number(decimal.RequireFromString("100")), "tier": crm.String("gold")}}
	next := old.Clone()
	next.Version, next.UpdatedAt = 4, at.Add(time.Hour)
	next.Level = "A"
	next.Region = ""
	next.Phone = "+8613800138000"
	next.Fields["budget"] = crm.Number(decimal.RequireFromString("250.5"))
	delete(next.Fields, "tier")
	changes, err := crm.Diff(old, next)
	require.NoError(t, err)
	var fields []string
	for _, c := range changes {
		fields = append(fields, c.Field)
	}
	require.Equal(t, []string{"fields.budget", "fields.tier", "level", "phone", "region"}, fields)
	require.JSONEq(t, `"B"`, string(changes[2].Old))
	require.JSONEq(t, `"A"`, string(changes[2].New))
	require.Nil(t, changes[3].Old, "the phone was unset")
	require.Nil(t, changes[4].New, "the region is unset now")

	same, err := crm.Diff(old, old.Clone())
	require.NoError(t, err)
	require.Empty(t, same)

	created, err := crm.Diff(nil, old)
	require.NoError(t, err)
	require.Len(t, created, 5, "name, level, region and two custom fields; unset fields are not changes")
}
