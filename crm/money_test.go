package crm_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

func mustMoney(t testing.TB, s string) crm.Money {
	t.Helper()
	m, err := crm.ParseMoney(s)
	require.NoError(t, err)
	return m
}

func TestParseMoney(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		field    string // empty when valid
	}{
		{in: "123.45 CNY", want: "123.45 CNY"},
		{in: "CNY 123.45", want: "123.45 CNY"},
		{in: "  -0.5 usd ", want: "-0.5 USD"},
		{in: "+7 JPY", want: "7 JPY"},
		{in: ".5 EUR", want: "0.5 EUR"},
		{in: "10000000000000000000000000000 CNY", field: "money.amount"},
		{in: "9999999999999999999999999999.9999999999 CNY", want: "9999999999999999999999999999.9999999999 CNY"},
		{in: "1.12345678901 CNY", field: "money.amount"},
		{in: "1,000.00 CNY", field: "money.amount"},
		{in: "1e3 CNY", field: "money.amount"},
		{in: "12 XYZ", field: "money.currency"},
		{in: "12", field: "money"},
		{in: "", field: "money"},
		{in: "- CNY", field: "money.amount"},
		{in: "1.2.3 CNY", field: "money.amount"},
		{in: "12 CNY extra", field: "money"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := crm.ParseMoney(tt.in)
			if tt.field != "" {
				var ve *crm.ValidationError
				require.ErrorAs(t, err, &ve)
				require.Equal(t, tt.field, ve.Field)
				require.ErrorIs(t, err, crm.ErrInvalidArgument)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, m.String())
		})
	}
}

func TestMoneyArithmeticRefusesMixedCurrencies(t *testing.T) {
	t.Parallel()
	cny, usd := mustMoney(t, "10.50 CNY"), mustMoney(t, "1 USD")
	_, err := cny.Add(usd)
	require.ErrorIs(t, err, crm.ErrCurrencyMismatch)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	_, err = cny.Sub(usd)
	require.ErrorIs(t, err, crm.ErrCurrencyMismatch)
	_, err = cny.Cmp(usd)
	require.ErrorIs(t, err, crm.ErrCurrencyMismatch)
	require.False(t, cny.Equal(usd))

	sum, err := cny.Add(mustMoney(t, "0.50 CNY"))
	require.NoError(t, err)
	require.True(t, sum.Equal(mustMoney(t, "11 CNY")), "11.00 equals 11")
	zeroPlus, err := crm.Money{}.Add(cny)
	require.NoError(t, err)
	require.True(t, zeroPlus.Equal(cny), "the zero Money is the identity")
	c, err := cny.Cmp(mustMoney(t, "10.5 CNY"))
	require.NoError(t, err)
	require.Zero(t, c)
	require.Equal(t, "12.600 CNY", cny.Mul(decimal.RequireFromString("1.2")).String())
	require.Equal(t, "0.13 CNY", mustMoney(t, "0.125 CNY").Round().String())
	require.Equal(t, "1 JPY", mustMoney(t, "0.5 JPY").Round().String())
}

func TestMoneyFromMinor(t *testing.T) {
	t.Parallel()
	m, err := crm.MoneyFromMinor(12345, "cny")
	require.NoError(t, err)
	require.Equal(t, "123.45 CNY", m.String())
	m, err = crm.MoneyFromMinor(12345, "KWD")
	require.NoError(t, err)
	require.Equal(t, "12.345 KWD", m.String())
	_, err = crm.MoneyFromMinor(1, "ABC")
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
}

func TestMoneyJSONRoundTripIsLossless(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0.0000000001 CNY", "9999999999999999999999999999 USD", "-12.5000 EUR", "7 JPY"} {
		m := mustMoney(t, s)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var back crm.Money
		require.NoError(t, json.Unmarshal(b, &back))
		require.Equal(t, m.String(), back.String(), "representation kept, not just value")
	}
	b, err := json.Marshal(crm.Money{})
	require.NoError(t, err)
	require.Equal(t, "null", string(b))

	var m crm.Money
	require.NoError(t, json.Unmarshal([]byte(`{"amount":12.30,"currency":"cny"}`), &m))
	require.Equal(t, "12.30 CNY", m.String(), "numbers are read exactly, not via float64")
	for in, field := range map[string]string{
		`{"amount":"1"}`:                            "currency",
		`{"currency":"CNY"}`:                        "amount",
		`{"amount":"x","currency":"CNY"}`:           "amount",
		`{"amount":"1","currency":"ZZZ"}`:           "currency",
		`{"amount":"1","currency":"CNY","extra":1}`: "money",
		`[1]`: "money",
		`{"amount":"1e400000000","currency":"CNY"}`:    "amount",
		`{"amount":1e400000000,"currency":"CNY"}`:      "amount",
		`{"amount":"1.000000000001","currency":"CNY"}`: "amount",
	} {
		var ve *crm.ValidationError
		require.ErrorAs(t, json.Unmarshal([]byte(in), &m), &ve, in)
		require.Equal(t, field, ve.Field, in)
	}
}

func TestMoneySQLRoundTrip(t *testing.T) {
	t.Parallel()
	m := mustMoney(t, "1234.5678 CNY")
	v, err := m.Value()
	require.NoError(t, err)
	var back crm.Money
	require.NoError(t, back.Scan(v))
	require.Equal(t, m.String(), back.String())
	require.NoError(t, back.Scan([]byte("1 USD")))
	require.Equal(t, "1 USD", back.String())
	require.NoError(t, back.Scan(nil))
	require.True(t, back.IsZero())
	require.Error(t, back.Scan(42))
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{"123.45 CNY", "CNY -1", "1e9 USD", "0.0000000001 JPY", "9999999999999999999999999999 USD", "", " . CNY"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := crm.ParseMoney(s)
		if err != nil {
			if !errors.Is(err, crm.ErrInvalidArgument) {
				t.Fatalf("error %v does not match ErrInvalidArgument", err)
			}
			return
		}
		require.NoError(t, m.Validate())
		again, err := crm.ParseMoney(m.String())
		require.NoError(t, err, "String output must parse: %q", m.String())
		require.True(t, again.Equal(m))
		b, err := json.Marshal(m)
		require.NoError(t, err)
		var back crm.Money
		require.NoError(t, json.Unmarshal(b, &back))
		require.True(t, back.Equal(m))
	})
}

func FuzzMoneyJSON(f *testing.F) {
	for _, s := range []string{`{"amount":"1.5","currency":"CNY"}`, `null`, `{"amount":1,"currency":"usd"}`, `{}`, `{"amount":"-0","currency":"JPY"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m crm.Money
		if err := json.Unmarshal(b, &m); err != nil {
			return
		}
		require.NoError(t, m.Validate())
		out, err := json.Marshal(m)
		require.NoError(t, err)
		var back crm.Money
		require.NoError(t, json.Unmarshal(out, &back))
		require.True(t, back.Equal(m))
	})
}

func BenchmarkMoneyAdd(b *testing.B) {
	x, y := mustMoney(b, "123.45 CNY"), mustMoney(b, "0.55 CNY")
	b.ReportAllocs()
	for b.Loop() {
		_, _ = x.Add(y)
	}
}
