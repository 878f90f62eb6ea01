package dedupe

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Fold returns s in a canonical form for comparison: Unicode NFKC (which
// folds full-width letters, digits and punctuation to their ASCII forms, so
// "ＡＢＣ１２３" becomes "abc123"), lower case, with runs of white space
// collapsed to one space and trimmed. It never fails.
func Fold(s string) string {
	if s == "" {
		return ""
	}
	s = norm.NFKC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == utf8.RuneError {
			continue
		}
		if unicode.IsSpace(r) || r == '\u3000' {
			space = b.Len() > 0
			continue
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// Simplify is [Fold] followed by replacing punctuation and symbols with
// spaces, so "O'Brien-Smith, Ltd." becomes "o brien smith ltd". Letters,
// digits and CJK characters are kept.
func Simplify(s string) string {
	return simplifyFolded(Fold(s), "")
}

// simplifyFolded replaces every rune that is not a letter, digit or a rune
// in keep with a space and collapses spaces. s must already be folded.
func simplifyFolded(s, keep string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || strings.ContainsRune(keep, r) {
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// isHan reports whether r is a CJK ideograph.
func isHan(r rune) bool { return unicode.Is(unicode.Han, r) }

// hasHan reports whether s contains a CJK ideograph.
func hasHan(s string) bool {
	for _, r := range s {
		if isHan(r) {
			return true
		}
	}
	return false
}

// stripSpacesBetweenHan removes spaces that separate two CJK characters:
// Chinese is written without spaces, so "华腾 科技" and "华腾科技" are the
// same text.
func stripSpacesBetweenHan(s string) string {
	if !strings.Contains(s, " ") || !hasHan(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	var prev rune
	for i, r := range s {
		if r == ' ' {
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if isHan(prev) || isHan(next) {
				continue
			}
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// digitsOnly returns the ASCII digits of s.
func digitsOnly(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
