package lead

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// textRule compiles a model whose one rule tests the lead's title with c.
func textRule(c cond.Condition) (*Model, error) {
	return Compile(ModelSpec{ID: "text", Version: 1, Fit: SectionSpec{Groups: []GroupSpec{{Name: "g", Rules: []RuleSpec{
		{ID: "r", When: &c, Points: 1},
	}}}}})
}

// FuzzTitleEquals checks that an equals rule compares like
// strings.EqualFold, including runes such as the Kelvin sign that fold to
// ASCII letters.
func FuzzTitleEquals(f *testing.F) {
	for _, seed := range [][2]string{
		{"Manufacturing", "manufacturing"}, {"retail", "retailer"}, {"RETAILER", "retail"},
		{"\u212aelvin", "kelvin"}, {"ca\u017fe", "case"}, {"", "x"}, {"caf\u00e9", "cafe"}, {"ceo", "ceo"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, needle string) {
		lower := strings.ToLower(needle)
		m, err := textRule(cond.Equals("title", lower))
		if lower == "" || !isASCII(lower) || err != nil {
			return
		}
		got := m.Score(&crm.Lead{Title: s}, nil, time.Time{}).Fit == 1
		if want := strings.EqualFold(s, lower); got != want {
			t.Fatalf("title %q equals %q = %v, strings.EqualFold says %v", s, lower, got, want)
		}
	})
}

// FuzzTitleContains checks that a contains rule agrees with a lower-cased
// strings.Contains for ASCII text.
func FuzzTitleContains(f *testing.F) {
	f.Add("Sales Director", "director")
	f.Add("chief", "chief officer")
	f.Fuzz(func(t *testing.T, s, sub string) {
		sub = strings.ToLower(sub)
		m, err := textRule(cond.Contains("title", sub))
		if sub == "" || !isASCII(sub) || !isASCII(s) || err != nil {
			return
		}
		got := m.Score(&crm.Lead{Title: s}, nil, time.Time{}).Fit == 1
		if want := strings.Contains(strings.ToLower(s), sub); got != want {
			t.Fatalf("title %q contains %q = %v, want %v", s, sub, got, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzHalfLifeFactor checks that the whole-day lookup table gives the very
// bits math.Exp2(-days/half-life) gives, for whole-day and other ages.
func FuzzHalfLifeFactor(f *testing.F) {
	const day = int64(24 * time.Hour)
	for _, seed := range []struct {
		age  int64
		half float64
	}{
		{0, 14}, {day, 14}, {30 * day, 14}, {(maxDecayDays - 1) * day, 7}, {maxDecayDays * day, 7},
		{500 * day, 30}, {day + 1, 14}, {3*day - 1, 0.5}, {45 * day, 1.0 / 3}, {90 * day, 365.25},
	} {
		f.Add(seed.age, seed.half)
	}
	f.Fuzz(func(t *testing.T, age int64, half float64) {
		if !(half > 0) || math.IsInf(half, 0) || age < 0 {
			return
		}
		m, err := ParseModel([]byte(`{"id": "m", "version": 1,
			"fit": {"groups": [{"name": "g", "rules": [{"id": "r", "when": {"field": "industry", "equals": "x"}, "points": 1}]}]},
			"decay": {"half_life_days": ` + strconv.FormatFloat(half, 'g', -1, 64) + `}}`))
		if err != nil {
			t.Skip(err)
		}
		a := time.Duration(age)
		want := math.Exp2(-(a.Hours() / 24) / half)
		if got := m.decayFactor(a); math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("decayFactor(%v) with half-life %v = %v, want %v (bit for bit)", a, half, got, want)
		}
	})
}
