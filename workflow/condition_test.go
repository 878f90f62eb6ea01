package workflow_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
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
		{"EqualsIsCaseSensitive", `{"field":"region","equals":"CN-EAST"}`, false},
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
			p, err := workflow.ParseCondition(s, []byte(tc.cond))
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
			_, err := workflow.ParseCondition(s, []byte(tc.cond))
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
	t.Run("UnknownKeysAreRefused", func(t *testing.T) {
		_, err := workflow.ParseCondition(s, []byte(`{"field":"region","equal":"x"}`))
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
	_, err := workflow.NewSchema(
		workflow.Field{Name: "Region", Kind: workflow.KindString},
		workflow.Field{Name: "amount", Kind: workflow.KindMoney},
		workflow.Field{Name: "x"},
		workflow.Field{Name: "x", Kind: workflow.KindBool},
	)
	var es crm.ValidationErrors
	require.True(t, errors.As(err, &es))
	require.Equal(t, []string{"fields[0].name", "fields[1].currency", "fields[2].kind", "fields[3].name"}, es.Fields())
}

func FuzzParseCondition(f *testing.F) {
	s := leadSchema(f)
	yes := true
	rec := lead(f, s, leadValues{region: "cn-east", size: 42, tags: []string{"a"}, budget: "5 CNY", vip: &yes})
	for _, seed := range []string{
		`{"field":"region","equals":"cn-east"}`,
		`{"all":[{"field":"company_size","range":{"gte":1,"lt":"1e3"}},{"not":{"field":"tags","prefix":"x"}}]}`,
		`{"any":[{"field":"budget","in":["5 CNY", 7]},{"field":"vip","exists":false}]}`,
		`{"field":"owner_id","in":["01000000-0000-7000-8000-000000000001"]}`,
		`{"not":{"not":{"not":{}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := workflow.ParseCondition(s, data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		_ = p.Match(rec)
		_ = p.Match(s.NewRecord())
	})
}
