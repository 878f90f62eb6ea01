package lead

import (
	"strings"
	"testing"
)

// FuzzEqualsLower checks the fast case-insensitive comparison against
// strings.EqualFold, including runes such as the Kelvin sign that fold to
// ASCII letters.
func FuzzEqualsLower(f *testing.F) {
	for _, seed := range [][2]string{
		{"Manufacturing", "manufacturing"}, {"retail", "retailer"}, {"RETAILER", "retail"},
		{"\u212aelvin", "kelvin"}, {"ca\u017fe", "case"}, {"", "x"}, {"caf\u00e9", "cafe"}, {"ceo", "ceo"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, s, needle string) {
		lower := strings.ToLower(needle)
		if lower == "" || !isASCII(lower) {
			return
		}
		if got, want := equalsLower(s, lower), strings.EqualFold(s, lower); got != want {
			t.Fatalf("equalsLower(%q, %q) = %v, strings.EqualFold says %v", s, lower, got, want)
		}
	})
}

// FuzzContainsLower checks the ASCII substring search against a lower-cased
// strings.Contains, for ASCII input where the two must agree.
func FuzzContainsLower(f *testing.F) {
	f.Add("Sales Director", "director")
	f.Add("chief", "chief officer")
	f.Fuzz(func(t *testing.T, s, sub string) {
		sub = strings.ToLower(sub)
		if sub == "" || !isASCII(sub) || !isASCII(s) {
			return
		}
		if got, want := containsLower(s, sub), strings.Contains(strings.ToLower(s), sub); got != want {
			t.Fatalf("containsLower(%q, %q) = %v, want %v", s, sub, got, want)
		}
	})
}
