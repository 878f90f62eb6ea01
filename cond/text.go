package cond

import "strings"

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// lowerIfASCII lower-cases an ASCII literal once, at compile time, so the
// common comparisons fold only the record's side.
func lowerIfASCII(s string) string {
	if isASCII(s) {
		return strings.ToLower(s)
	}
	return s
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold is strings.EqualFold(s, lit) where lit is lower-case when
// ASCII; ascii says both are ASCII, which turns it into a length check and
// a byte loop that folds s alone.
func equalFold(s, lit string, ascii bool) bool {
	if !ascii {
		return strings.EqualFold(s, lit)
	}
	if len(s) != len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if lowerASCII(s[i]) != lit[i] {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, p string, ascii bool) bool {
	return len(s) >= len(p) && equalFold(s[:len(p)], p, ascii)
}

// containsFold reports whether sub, lower-case when ASCII, occurs in s
// ignoring case. An ASCII sub is matched byte by byte (a non-ASCII rune
// that folds to ASCII, such as the Kelvin sign, does not match it).
func containsFold(s, sub string) bool {
	n := len(sub)
	if n == 0 {
		return true
	}
	if n > len(s) {
		return false
	}
	if !isASCII(sub) {
		for i := 0; i+n <= len(s); i++ {
			if strings.EqualFold(s[i:i+n], sub) {
				return true
			}
		}
		return false
	}
	// A byte folds to sub[0] when it is sub[0] or its upper-case letter.
	first, upper := sub[0], sub[0]
	if 'a' <= first && first <= 'z' {
		upper = first - ('a' - 'A')
	}
	for i, last := 0, len(s)-n; i <= last; i++ {
		if c := s[i]; c != first && c != upper {
			continue
		}
		j := 1
		for j < n && lowerASCII(s[i+j]) == sub[j] {
			j++
		}
		if j == n {
			return true
		}
	}
	return false
}

// lookup looks s up in an in-list's set of lower-case ASCII literals;
// ok is false when s cannot be looked up without allocating (long or
// non-ASCII text), and the caller scans the list.
func (x *operands) lookup(s string) (found, ok bool) {
	if !x.ascii || len(s) > 64 {
		return false, false
	}
	var buf [64]byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return false, false
		}
		buf[i] = lowerASCII(c)
	}
	_, found = x.set[string(buf[:len(s)])]
	return found, true
}
