package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func TestDiff(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	cny := func(s string) crm.Money { return money(s, "CNY") }
	for _, c := range []struct {
		name      string
		want, got any
		diffs     []string
	}{
		{"EqualRecords", &crm.Lead{Name: "a", Tags: []string{"x"}}, &crm.Lead{Name: "a", Tags: []string{"x"}}, nil},
		{"NilAndEmptyListsAreEqual", &crm.Lead{Tags: nil, Fields: nil}, &crm.Lead{Tags: []string{}, Fields: crm.Fields{}}, nil},
		{"MoneyComparesNumerically", &crm.Opportunity{Amount: cny("1.5")}, &crm.Opportunity{Amount: cny("1.50")}, nil},
		{"MoneyDiffers", &crm.Opportunity{Amount: cny("1.5")}, &crm.Opportunity{Amount: cny("1.51")}, []string{"Amount: want 1.5 CNY, got 1.51 CNY"}},
		{"PromotedMetaFieldsReadAsTheRecords", &crm.Team{Meta: crm.Meta{Version: 1}}, &crm.Team{Meta: crm.Meta{Version: 2}}, []string{"Version: want 1, got 2"}},
		{"TimeMustBeTheSameInstant", t0, t0.Add(time.Nanosecond), []string{"value: want 2026-01-02T03:04:05.000006Z, got 2026-01-02T03:04:05.000006001Z"}},
		{"TimeMustComeBackInUTC", t0, t0.In(time.FixedZone("X", 3600)), []string{"value: want a UTC time, got location X"}},
		{"PointerNilness", &crm.Customer{LastDealAt: &t0}, &crm.Customer{}, []string{"LastDealAt: want 2026-01-02 03:04:05.000006 +0000 UTC, got nil"}},
		{"ListItems", &crm.User{Roles: []string{"a", "b"}}, &crm.User{Roles: []string{"a", "c"}}, []string{`Roles[1]: want "b", got "c"`}},
		{"ListLength", &crm.User{Roles: []string{"a"}}, &crm.User{}, []string{"Roles: want 1 items [a], got 0 items []"}},
		{"CustomFieldKeys", &crm.Team{Fields: crm.Fields{"a": crm.Bool(true)}}, &crm.Team{Fields: crm.Fields{"b": crm.Bool(true)}}, []string{"Fields: want keys [a], got keys [b]"}},
		{"CustomFieldNumbersCompareNumerically", crm.Fields{"n": crm.Number(decimal.RequireFromString("2.0"))}, crm.Fields{"n": crm.Number(decimal.RequireFromString("2"))}, nil},
		{"CustomFieldKinds", crm.Fields{"n": crm.String("1")}, crm.Fields{"n": crm.Number(decimal.NewFromInt(1))}, []string{`[n]: want {"string":"1"}, got {"number":"1"}`}},
		{"JSONComparesAsValues", json.RawMessage(`{"a": 1, "b": [1, 2]}`), json.RawMessage(`{"b":[1,2],"a":1}`), nil},
		{"JSONDiffers", json.RawMessage(`{"a":1}`), json.RawMessage(`{"a":2}`), []string{`value: want JSON {"a":1}, got {"a":2}`}},
		{"TypesDiffer", 1, "1", []string{"value: want type int, got string"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			require.Equal(t, c.diffs, Diff(c.want, c.got))
		})
	}
}
