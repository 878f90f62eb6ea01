package crm

import (
	"bytes"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// maxMoneyDigits bounds the digits a parsed amount may carry, so hostile
// input such as "1e999999999" cannot make decimal arithmetic allocate without
// limit. It matches PostgreSQL's numeric(38, 10) column in pgstore.
const (
	maxMoneyIntDigits  = 28
	maxMoneyFracDigits = 10
)

// ErrCurrencyMismatch is returned by arithmetic and comparison across two
// currencies. It matches [ErrInvalidArgument].
var ErrCurrencyMismatch = fmt.Errorf("%w: currency mismatch", ErrInvalidArgument)

// Money is an exact decimal amount in an ISO 4217 currency. The zero value
// means "no amount" and has no currency. Money is an immutable value and safe
// for concurrent use. Compare values with [Money.Cmp] or [Money.Equal], never
// with ==: 1.5 and 1.50 are equal amounts with different representations.
type Money struct {
	amount   decimal.Decimal
	currency string
}

// NewMoney returns amount in currency. The currency is upper-cased and must be
// a known ISO 4217 code; the amount may not have more than 28 integer or 10
// fractional digits.
func NewMoney(amount decimal.Decimal, currency string) (Money, error) {
	c, err := normaliseCurrency("currency", currency)
	if err != nil {
		return Money{}, err
	}
	if err := checkAmount("amount", amount); err != nil {
		return Money{}, err
	}
	return Money{amount: amount, currency: c}, nil
}

// MoneyFromMinor returns minor units (cents, fen) of currency as Money:
// MoneyFromMinor(12345, "CNY") is 123.45 CNY.
func MoneyFromMinor(minor int64, currency string) (Money, error) {
	c, err := normaliseCurrency("currency", currency)
	if err != nil {
		return Money{}, err
	}
	units, _ := CurrencyMinorUnits(c)
	return Money{amount: decimal.New(minor, -int32(units)), currency: c}, nil
}

// ParseMoney parses "123.45 CNY", "CNY 123.45" or "-0.5 usd". Thousands
// separators and exponents are refused so that a typo cannot silently change
// an amount by orders of magnitude.
func ParseMoney(s string) (Money, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Money{}, Invalid("money", "want \"<amount> <currency>\", got %q", truncate(s, 64))
	}
	num, cur := fields[0], fields[1]
	if isAlpha(num) {
		num, cur = cur, num
	}
	amount, err := parseAmount("money.amount", num)
	if err != nil {
		return Money{}, err
	}
	c, err := normaliseCurrency("money.currency", cur)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: amount, currency: c}, nil
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i] | 0x20
		if b < 'a' || b > 'z' {
			return false
		}
	}
	return true
}

// parseAmount accepts an optional sign, digits, and an optional fraction.
func parseAmount(field, s string) (decimal.Decimal, error) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	intDigits, fracDigits, dot := 0, 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			if dot {
				fracDigits++
			} else {
				intDigits++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return decimal.Decimal{}, Invalid(field, "not a decimal number: %q", truncate(s, 64))
		}
	}
	if intDigits == 0 && fracDigits == 0 {
		return decimal.Decimal{}, Invalid(field, "not a decimal number: %q", truncate(s, 64))
	}
	if intDigits > maxMoneyIntDigits+1 || fracDigits > maxMoneyFracDigits {
		return decimal.Decimal{}, Invalid(field, "more than %d integer or %d fractional digits", maxMoneyIntDigits, maxMoneyFracDigits)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, Invalid(field, "not a decimal number: %q", truncate(s, 64))
	}
	if err := checkAmount(field, d); err != nil {
		return decimal.Decimal{}, err
	}
	return d, nil
}

func checkAmount(field string, d decimal.Decimal) error {
	if -d.Exponent() > maxMoneyFracDigits {
		return Invalid(field, "more than %d fractional digits", maxMoneyFracDigits)
	}
	if d.Abs().Cmp(maxMoneyAmount) >= 0 {
		return Invalid(field, "more than %d integer digits", maxMoneyIntDigits)
	}
	return nil
}

var maxMoneyAmount = decimal.New(1, maxMoneyIntDigits)

// Amount returns the decimal amount.
func (m Money) Amount() decimal.Decimal { return m.amount }

// Currency returns the upper-case ISO 4217 code, or "" for the zero Money.
func (m Money) Currency() string { return m.currency }

// IsZero reports whether m is the zero value (no amount, no currency).
func (m Money) IsZero() bool { return m.currency == "" && m.amount.IsZero() }

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool { return m.amount.IsNegative() }

// Add returns m+o. Adding across currencies returns [ErrCurrencyMismatch].
// The zero Money adds as the identity.
func (m Money) Add(o Money) (Money, error) {
	c, err := m.common(o)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: m.amount.Add(o.amount), currency: c}, nil
}

// Sub returns m-o. Subtracting across currencies returns [ErrCurrencyMismatch].
func (m Money) Sub(o Money) (Money, error) {
	c, err := m.common(o)
	if err != nil {
		return Money{}, err
	}
	return Money{amount: m.amount.Sub(o.amount), currency: c}, nil
}

// Mul returns m multiplied by factor, exactly (no rounding).
func (m Money) Mul(factor decimal.Decimal) Money {
	return Money{amount: m.amount.Mul(factor), currency: m.currency}
}

// Neg returns -m.
func (m Money) Neg() Money { return Money{amount: m.amount.Neg(), currency: m.currency} }

// Round rounds to the currency's minor units, half away from zero
// (123.455 CNY -> 123.46 CNY).
func (m Money) Round() Money {
	units, ok := CurrencyMinorUnits(m.currency)
	if !ok {
		return m
	}
	return Money{amount: m.amount.Round(int32(units)), currency: m.currency}
}

// Cmp compares m and o: -1, 0 or +1. Comparing across currencies returns
// [ErrCurrencyMismatch].
func (m Money) Cmp(o Money) (int, error) {
	if _, err := m.common(o); err != nil {
		return 0, err
	}
	return m.amount.Cmp(o.amount), nil
}

// Equal reports whether m and o have the same currency and numerically equal
// amounts (1.5 CNY equals 1.50 CNY).
func (m Money) Equal(o Money) bool {
	return m.currency == o.currency && m.amount.Equal(o.amount)
}

func (m Money) common(o Money) (string, error) {
	switch {
	case m.currency == o.currency:
		return m.currency, nil
	case m.IsZero():
		return o.currency, nil
	case o.IsZero():
		return m.currency, nil
	}
	return "", fmt.Errorf("%w: %s and %s", ErrCurrencyMismatch, m.currency, o.currency)
}

// String returns "123.45 CNY", or "" for the zero Money. The amount keeps
// its scale ("12.30 CNY" stays so); use [Money.Round] first for display.
func (m Money) String() string {
	if m.IsZero() {
		return ""
	}
	return amountString(m.amount) + " " + m.currency
}

// amountString formats d keeping its scale, so 12.30 stays "12.30" through
// JSON and SQL round trips, as it does in a PostgreSQL numeric.
func amountString(d decimal.Decimal) string {
	if e := d.Exponent(); e < 0 {
		return d.StringFixed(-e)
	}
	return d.String()
}

// Validate reports an unknown currency or an out-of-range amount. The zero
// Money is valid.
func (m Money) Validate() error {
	if m.IsZero() {
		return nil
	}
	if !ValidCurrency(m.currency) {
		return Invalid("currency", "unknown ISO 4217 currency %q", m.currency)
	}
	return checkAmount("amount", m.amount)
}

type moneyJSON struct {
	Amount   *string `json:"amount"`
	Currency *string `json:"currency"`
}

// MarshalJSON encodes {"amount":"123.45","currency":"CNY"}, the amount as a
// string so no JSON reader turns it into a float. The zero Money encodes as
// null.
func (m Money) MarshalJSON() ([]byte, error) {
	if m.IsZero() {
		return []byte("null"), nil
	}
	a := amountString(m.amount)
	return json.Marshal(moneyJSON{Amount: &a, Currency: &m.currency})
}

// UnmarshalJSON decodes the form written by [Money.MarshalJSON]; null decodes
// to the zero Money. The amount may also be a JSON number, read exactly.
func (m *Money) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*m = Money{}
		return nil
	}
	var raw struct {
		Amount   json.RawMessage `json:"amount"`
		Currency *string         `json:"currency"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Invalid("money", "want {\"amount\":\"123.45\",\"currency\":\"CNY\"}: %v", err)
	}
	if raw.Currency == nil {
		return Invalid("currency", "is required")
	}
	if len(raw.Amount) == 0 || string(raw.Amount) == "null" {
		return Invalid("amount", "is required")
	}
	s := string(raw.Amount)
	if s[0] == '"' {
		if err := json.Unmarshal(raw.Amount, &s); err != nil {
			return Invalid("amount", "not a string")
		}
	}
	amount, err := parseAmount("amount", s)
	if err != nil {
		return err
	}
	c, err := normaliseCurrency("currency", *raw.Currency)
	if err != nil {
		return err
	}
	*m = Money{amount: amount, currency: c}
	return nil
}

// Value implements [driver.Valuer] as the text "123.45 CNY" (NULL for the
// zero Money), for hosts that keep Money in one text column. pgstore uses a
// numeric and a currency column instead.
func (m Money) Value() (driver.Value, error) {
	if m.IsZero() {
		return nil, nil
	}
	return m.String(), nil
}

// Scan implements [sql.Scanner] for the form written by [Money.Value].
func (m *Money) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*m = Money{}
		return nil
	case string:
		p, err := ParseMoney(v)
		if err != nil {
			return err
		}
		*m = p
		return nil
	case []byte:
		return m.Scan(string(v))
	}
	return errors.New("crm: cannot scan " + fmt.Sprintf("%T", src) + " into Money")
}
