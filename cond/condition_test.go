package cond_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

func TestConditionMatrix(t *testing.T) {
	t.Parallel()
	s := leadSchema(t)
	yes := true
	rec := lead(t, s, leadValues{region: "cn-east", industry: "manufacturing", size: 500, tags: []string{"trade-show", "vip"}, budget: "1000000.50 CNY", email: "a@b.cn", vip: &yes})
	empty := s.NewRecord()
	cases := []struct {
		name string
		cond string
		want bool
	}{
		{"EqualsMatchesAString", `{"field":"region","equals":"cn-east"}`, true},
		{"EqualsIgnoresCase", `{"field":"region","equals":"CN-East"}`, true},
		{"InMatchesAnyListedValue", `{"field":"region","in":["cn-north","cn-east"]}`, true},
		{"InWithManyValuesUsesASet", `{"field":"region","in":["a","b","c","d","e","f","g","h","i","cn-east"]}`, true},
		{"InMissesUnlistedValues", `{"field":"region","in":["a","b","c","d","e","f","g","h","i"]}`, false},
		{"PrefixMatchesTheStart", `{"field":"region","prefix":"cn-"}`, true},
		{"ExistsOnASetField", `{"field":"email","exists":true}`, true},
		{"NotExistsOnAnUnsetField", `{"field":"language","exists":false}`, true},
		{"RangeIncludesInclusiveBound", `{"field":"company_size","range":{"gte":500,"lt":1000}}`, true},
		{"RangeExcludesStrictBound", `{"field":"company_size","range":{"gt":"500"}}`, false},
		{"NumberEqualsIgnoresTrailingZeros", `{"field":"company_size","equals":"500.000"}`, true},
		{"MoneyRangeComparesExactly", `{"field":"budget","range":{"gt":"1000000 CNY"}}`, true},
		{"MoneyRangeComparesExactlyAtTheCent", `{"field":"budget","range":{"gt":"1000000.50 CNY"}}`, false},
		{"MoneyAcceptsABareAmount", `{"field":"budget","range":{"lte":1000000.5}}`, true},
		{"StringsEqualsMeansContains", `{"field":"tags","equals":"vip"}`, true},
		{"StringsPrefixOnAnyElement", `{"field":"tags","prefix":"trade"}`, true},
		{"BoolEquals", `{"field":"vip","equals":true}`, true},
		{"AllNeedsEveryPart", `{"all":[{"field":"region","equals":"cn-east"},{"field":"industry","equals":"retail"}]}`, false},
		{"AnyNeedsOnePart", `{"any":[{"field":"region","equals":"cn-west"},{"field":"industry","equals":"manufacturing"}]}`, true},
		{"NotInverts", `{"not":{"field":"region","equals":"cn-west"}}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := cond.Parse(s, []byte(tc.cond))
			require.NoError(t, err)
			require.Equal(t, tc.want, p.Match(rec))
			if tc.name != "NotExistsOnAnUnsetField" && tc.name != "NotInverts" {
				require.False(t, p.Match(empty), "an unset field fails every operator but exists")
			}
		})
	}
}

func TestConditionValidation(t *testing.T) {
	t.Parallel()
	s := leadSchema(t)
	cases := []struct {
		name, cond, field string
	}{
		{"UnknownField", `{"all":[{"field":"region","equals":"x"},{"field":"regoin","equals":"x"}]}`, "all[1].field"},
		{"TwoOperators", `{"field":"region","equals":"x","prefix":"y"}`, ""},
		{"NoOperator", `{"field":"region"}`, ""},
		{"FieldAndGroup", `{"field":"region","equals":"x","any":[{"field":"region","equals":"x"}]}`, ""},
		{"EmptyAll", `{"all":[]}`, "all"},
		{"RangeOnAString", `{"field":"region","range":{"gt":1}}`, "range"},
		{"PrefixOnANumber", `{"field":"company_size","prefix":"1"}`, "prefix"},
		{"EmptyRange", `{"field":"company_size","range":{"gt":10,"lt":5}}`, "range"},
		{"NoBounds", `{"field":"company_size","range":{}}`, "range"},
		{"BadNumber", `{"field":"company_size","equals":"ten"}`, "equals"},
		{"OtherCurrency", `{"field":"budget","range":{"gt":"100 USD"}}`, "range.gt"},
		{"StringForABool", `{"field":"vip","equals":"yes"}`, "equals"},
		{"BadID", `{"field":"owner_id","equals":"nobody"}`, "equals"},
		{"NumberForAString", `{"field":"region","in":["a",1]}`, "in[1]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cond.Parse(s, []byte(tc.cond))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
	t.Run("UnknownKeysAreRefused", func(t *testing.T) {
		_, err := cond.Parse(s, []byte(`{"field":"region","equal":"x"}`))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestRecordRefusesWrongKindsAndCurrencies(t *testing.T) {
	t.Parallel()
	s := leadSchema(t)
	r := s.NewRecord()
	require.ErrorIs(t, r.SetString("company_size", "10"), crm.ErrInvalidArgument)
	require.ErrorIs(t, r.SetString("nope", "10"), crm.ErrInvalidArgument)
	usd, err := crm.ParseMoney("10 USD")
	require.NoError(t, err)
	require.ErrorIs(t, r.SetMoney("budget", usd), crm.ErrCurrencyMismatch)
	require.False(t, r.Has("budget"))
}

func TestSchemaValidation(t *testing.T) {
	t.Parallel()
	_, err := cond.NewSchema(
		cond.Field{Name: "Region", Kind: cond.KindString},
		cond.Field{Name: "amount", Kind: cond.KindMoney},
		cond.Field{Name: "x"},
		cond.Field{Name: "x", Kind: cond.KindBool},
	)
	var es crm.ValidationErrors
	require.True(t, errors.As(err, &es))
	require.Equal(t, []string{"fields[0].name", "fields[1].currency", "fields[2].kind", "fields[3].name"}, es.Fields())
}

// FuzzParse covers the strict decoder together with the compiler: any
// input is compiled or refused with an invalid-argument error, never a
// panic or a stack overflow, and a compiled predicate evaluates and
// explains any record.
func FuzzParse(f *testing.F) {
	s := richSchema(f)
	rec := richRecord(f, s)
	unknownRec := s.NewRecord()
	_ = unknownRec.SetUnknown("status")
	_ = unknownRec.SetID("department", deptUnknown)
	unknownRec.SetCustom(crm.Fields{}, true)
	for _, seed := range []string{
		`{"field":"name","equals":"Acme"}`,
		`{"all":[{"field":"size","range":{"gte":1,"lt":"1e3"}},{"not":{"field":"tags","prefix":"x"}}]}`,
		`{"any":[{"field":"fields.budget","in":["5", 7]},{"field":"status","exists":false}]}`,
		`{"field":"department","under":["` + deptEast.String() + `"]}`,
		`{"event":{"kind":"*","min_count":2,"within_days":1.5}}`,
		`{"field":"fields.tier","contains":"ol"}`,
		`{"not":{"not":{"not":{}}}}`,
		`{"field":"size","equals":NaN}`,
		`{"field":"size","equals":1e999999}`,
		strings.Repeat(`{"not":`, 300) + `{"field":"name","exists":true}` + strings.Repeat(`}`, 300),
		`{"field":"name","equals":"x"} {"trailing":true}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := cond.Parse(s, data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		for _, r := range []*cond.Record{rec, unknownRec, s.NewRecord()} {
			got := p.Eval(r)
			require.Equal(t, got, p.Explain(r).Result, "explain agrees with eval")
			require.Equal(t, got == cond.True, p.Match(r))
		}
		_ = p.String()
	})
}
