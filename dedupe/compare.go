package dedupe

import (
	"strings"
	"unicode/utf8"
)

// maxRunes bounds the text the similarity functions look at: they work on
// stack buffers so that comparing never allocates. Longer strings are
// compared on their first maxRunes runes, which decides any real name,
// company or street.
const maxRunes = 64

// runeBuf holds the decoded runes of one string.
type runeBuf struct {
	r [maxRunes]rune
	n int
}

func (b *runeBuf) load(s string) {
	b.n = 0
	for i := 0; i < len(s) && b.n < maxRunes; {
		c := s[i]
		if c < utf8.RuneSelf {
			b.r[b.n] = rune(c)
			i++
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			b.r[b.n] = r
			i += size
		}
		b.n++
	}
}

// Exact reports whether a and b are equal and not empty. Normalise values
// first (see [Fold] and the Normalise functions).
func Exact(a, b string) bool { return a != "" && a == b }

// Jaro returns the Jaro similarity of a and b, from 0 (nothing in common)
// to 1 (equal). Two empty strings are equal. It does not allocate.
func Jaro(a, b string) float64 {
	if a == b {
		return 1
	}
	if a == "" || b == "" {
		return 0
	}
	var x, y runeBuf
	x.load(a)
	y.load(b)
	return jaro(&x, &y)
}

func jaro(x, y *runeBuf) float64 {
	if x.n > y.n {
		x, y = y, x
	}
	window := y.n/2 - 1
	if window < 0 {
		window = 0
	}
	var xm, ym [maxRunes]bool
	matches := 0
	for i := 0; i < x.n; i++ {
		lo, hi := max(0, i-window), min(y.n-1, i+window)
		for j := lo; j <= hi; j++ {
			if !ym[j] && x.r[i] == y.r[j] {
				xm[i], ym[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, k := 0, 0
	for i := 0; i < x.n; i++ {
		if !xm[i] {
			continue
		}
		for !ym[k] {
			k++
		}
		if x.r[i] != y.r[k] {
			transpositions++
		}
		k++
	}
	m := float64(matches)
	return (m/float64(x.n) + m/float64(y.n) + (m-float64(transpositions/2))/m) / 3
}

// JaroWinkler returns the Jaro-Winkler similarity of a and b: Jaro with a
// bonus for a common prefix of up to four runes (scaling factor 0.1). It
// suits short strings with typos such as names. It does not allocate.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	if a == "" || b == "" {
		return 0
	}
	var x, y runeBuf
	x.load(a)
	y.load(b)
	return jaroWinkler(&x, &y)
}

func jaroWinkler(x, y *runeBuf) float64 {
	j := jaro(x, y)
	prefix := 0
	for prefix < 4 && prefix < x.n && prefix < y.n && x.r[prefix] == y.r[prefix] {
		prefix++
	}
	return j + float64(prefix)*0.1*(1-j)
}

// EditDistance returns the Levenshtein distance between a and b counted in
// runes (insertions, deletions, substitutions), or limit+1 when it exceeds
// limit; a small limit makes it fast. It does not allocate.
func EditDistance(a, b string, limit int) int {
	return editDistance(a, b, limit, false)
}

// DamerauDistance is [EditDistance] that also counts swapping two adjacent
// runes as one edit (optimal string alignment), the commonest typing error
// in digits: "19560409" and "19564009" are at distance 1.
func DamerauDistance(a, b string, limit int) int {
	return editDistance(a, b, limit, true)
}

func editDistance(a, b string, limit int, transpose bool) int {
	if a == b {
		return 0
	}
	if limit < 0 {
		limit = 0
	}
	var x, y runeBuf
	x.load(a)
	y.load(b)
	if d := x.n - y.n; d > limit || -d > limit {
		return limit + 1
	}
	var rows [3][maxRunes + 1]int
	prev2, prev, cur := &rows[0], &rows[1], &rows[2]
	for j := 0; j <= y.n; j++ {
		prev[j] = j
	}
	for i := 1; i <= x.n; i++ {
		cur[0] = i
		best := cur[0]
		for j := 1; j <= y.n; j++ {
			cost := 1
			if x.r[i-1] == y.r[j-1] {
				cost = 0
			}
			v := min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if transpose && i > 1 && j > 1 && x.r[i-1] == y.r[j-2] && x.r[i-2] == y.r[j-1] {
				v = min(v, prev2[j-2]+1)
			}
			cur[j] = v
			best = min(best, v)
		}
		if best > limit {
			return limit + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return min(prev[y.n], limit+1)
}

// nextToken returns the first space-separated token of s and the rest.
func nextToken(s string) (tok, rest string) {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// tokenSimilarity compares two words: Jaro-Winkler, except that a
// one-letter word (an initial) matches any word it begins.
func tokenSimilarity(a, b string) float64 {
	if a == b {
		return 1
	}
	if (len(a) == 1 || len(b) == 1) && a != "" && b != "" && a[0] == b[0] {
		return 0.9
	}
	return JaroWinkler(a, b)
}

// mongeElkanOneWay is the mean, over the words of a, of the best
// similarity to a word of b.
func mongeElkanOneWay(a, b string) float64 {
	sum, n := 0.0, 0
	for rest := a; ; {
		var tok string
		tok, rest = nextToken(rest)
		if tok == "" {
			break
		}
		best := 0.0
		for r2 := b; ; {
			var t2 string
			t2, r2 = nextToken(r2)
			if t2 == "" {
				break
			}
			if s := tokenSimilarity(tok, t2); s > best {
				best = s
			}
		}
		sum += best
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// MongeElkan returns the symmetric Monge-Elkan similarity of two
// space-separated word lists: each word is matched to its most similar word
// on the other side (Jaro-Winkler; an initial matches the words it begins)
// and the means of both directions are averaged. Word order does not
// matter, so "smith john" and "j smith" score high. It does not allocate.
func MongeElkan(a, b string) float64 {
	if a == b {
		return 1
	}
	if a == "" || b == "" {
		return 0
	}
	return (mongeElkanOneWay(a, b) + mongeElkanOneWay(b, a)) / 2
}

// TokenJaccard returns the share of distinct words the two word lists have
// in common (intersection over union). It does not allocate.
func TokenJaccard(a, b string) float64 {
	if a == b {
		return 1
	}
	common, na, nb := 0, 0, 0
	for rest := a; ; {
		var tok string
		tok, rest = nextToken(rest)
		if tok == "" {
			break
		}
		if containsTokenBefore(a, tok, rest) {
			continue
		}
		na++
		if containsToken(b, tok) {
			common++
		}
	}
	for rest := b; ; {
		var tok string
		tok, rest = nextToken(rest)
		if tok == "" {
			break
		}
		if !containsTokenBefore(b, tok, rest) {
			nb++
		}
	}
	union := na + nb - common
	if union == 0 {
		return 0
	}
	return float64(common) / float64(union)
}

func containsToken(s, tok string) bool {
	for rest := s; ; {
		var t string
		t, rest = nextToken(rest)
		if t == "" {
			return false
		}
		if t == tok {
			return true
		}
	}
}

// nameWithin reports whether every word of the shorter of two names is a
// word of the longer, and the shorter has a word of four letters or more:
// "Lulu" within "Lulu Restaurant Bis Cafe". It does not allocate.
func nameWithin(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	long := false
	for rest := a; ; {
		var t string
		t, rest = nextToken(rest)
		if t == "" {
			return long
		}
		if !containsToken(b, t) {
			return false
		}
		long = long || len(t) >= 4
	}
}

// containsTokenBefore reports whether tok occurs in s before the suffix rest.
func containsTokenBefore(s, tok, rest string) bool {
	head := s[:len(s)-len(rest)]
	n := 0
	for r := head; ; {
		var t string
		t, r = nextToken(r)
		if t == "" {
			break
		}
		if t == tok {
			n++
		}
	}
	return n > 1
}

// NumericCloseness returns 1 when a and b are equal, falling linearly to 0
// when they differ by scale or more.
func NumericCloseness(a, b, scale float64) float64 {
	if a == b {
		return 1
	}
	d := a - b
	if d < 0 {
		d = -d
	}
	if scale <= 0 || d >= scale {
		return 0
	}
	return 1 - d/scale
}

// DaysApart returns the number of days between two dates written
// "2006-01-02" (as [NormaliseDate] returns them), and false when either is
// not in that form. It does not allocate.
func DaysApart(a, b string) (int, bool) {
	da, ok1 := dayNumber(a)
	db, ok2 := dayNumber(b)
	if !ok1 || !ok2 {
		return 0, false
	}
	if da > db {
		return da - db, true
	}
	return db - da, true
}

// dayNumber converts "YYYY-MM-DD" to days since 1970-01-01 (Howard
// Hinnant's days_from_civil).
func dayNumber(s string) (int, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	num := func(p string) (int, bool) {
		n := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return 0, false
			}
			n = n*10 + int(p[i]-'0')
		}
		return n, true
	}
	y, ok1 := num(s[:4])
	m, ok2 := num(s[5:7])
	d, ok3 := num(s[8:])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || d < 1 || d > 31 {
		return 0, false
	}
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468, true
}

// isASCII reports whether s holds only ASCII bytes.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// withinOneEdit reports whether DamerauDistance(a, b, 1) <= 1. ASCII
// strings (phone numbers, most e-mail addresses) are checked byte by byte
// in one pass instead of through the distance table.
func withinOneEdit(a, b string) bool {
	if a == b {
		return true
	}
	if len(a) > maxRunes || len(b) > maxRunes || !isASCII(a) || !isASCII(b) {
		return DamerauDistance(a, b, 1) <= 1
	}
	if len(a) > len(b) {
		a, b = b, a
	}
	if len(b)-len(a) > 1 {
		return false
	}
	i := 0
	for i < len(a) && a[i] == b[i] {
		i++
	}
	if len(a) < len(b) {
		return a[i:] == b[i+1:] // one insertion
	}
	// a != b and same length: i is the first difference.
	if a[i+1:] == b[i+1:] {
		return true // one substitution
	}
	return i+1 < len(a) && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // one swap
}

// jaroWinklerBoth returns JaroWinkler(a, b) and JaroWinkler(b, a),
// decoding each string once. They differ only for strings of equal length,
// where the greedy matching of Jaro depends on which side leads.
func jaroWinklerBoth(a, b string) (ab, ba float64) {
	var x, y runeBuf
	x.load(a)
	y.load(b)
	ab = jaroWinkler(&x, &y)
	if x.n != y.n {
		return ab, ab
	}
	return ab, jaroWinkler(&y, &x)
}

// singleWords reports whether a and b are single words of more than one
// byte, different and not empty: Monge-Elkan then reduces to Jaro-Winkler
// of the two words (an initial rule needs a one-byte word).
func singleWords(a, b string) bool {
	return a != b && len(a) > 1 && len(b) > 1 && strings.IndexByte(a, ' ') < 0 && strings.IndexByte(b, ' ') < 0
}

// jaroWinklerOrMongeElkan returns max(JaroWinkler(a, b), MongeElkan(a, b))
// for two different non-empty values. Chinese names, companies and
// addresses are written without spaces: for them Monge-Elkan is the mean
// of Jaro-Winkler both ways, computed from one decoding of each string.
func jaroWinklerOrMongeElkan(a, b string) float64 {
	if singleWords(a, b) {
		ab, ba := jaroWinklerBoth(a, b)
		return max(ab, (ab+ba)/2)
	}
	return max(JaroWinkler(a, b), MongeElkan(a, b))
}

// compareDates compares two different prepared dates. Dates written as
// year-month-day agree closely when day and month are swapped or one of
// the three is one keystroke off (a digit wrong, two digits swapped), and
// partly when one of the three is wrong altogether or two are one
// keystroke off each. Other forms are compared by edit distance. It does
// not allocate.
func compareDates(a, b string) Level {
	if !isDateKey(a) || !isDateKey(b) {
		switch DamerauDistance(a, b, 2) {
		case 1:
			return LevelClose
		case 2:
			return LevelPartial
		}
		return LevelDifferent
	}
	if a[:4] == b[:4] && a[5:7] == b[8:] && a[8:] == b[5:7] {
		return LevelClose // day and month swapped
	}
	differ, slips := 0, 0
	for _, part := range [3][2]int{{0, 4}, {5, 7}, {8, 10}} {
		x, y := a[part[0]:part[1]], b[part[0]:part[1]]
		if x == y {
			continue
		}
		differ++
		if oneKeystroke(x, y) {
			slips++
		}
	}
	switch {
	case differ == 1 && slips == 1:
		return LevelClose
	case differ == 1, differ == 2 && slips == 2:
		return LevelPartial
	}
	return LevelDifferent
}

// isDateKey reports whether s is written dddd-dd-dd.
func isDateKey(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i := range len(s) {
		if i != 4 && i != 7 && (s[i] < '0' || s[i] > '9') {
			return false
		}
	}
	return true
}

// oneKeystroke reports whether two different strings of one length differ
// in one byte or by two neighbouring bytes swapped.
func oneKeystroke(x, y string) bool {
	first := -1
	for i := range len(x) {
		if x[i] == y[i] {
			continue
		}
		if first >= 0 {
			return i == first+1 && x[first] == y[i] && x[i] == y[first] && x[i+1:] == y[i+1:]
		}
		first = i
	}
	return true
}

// numbersConflict reports whether each of two addresses has a number the
// other lacks: a house number or a numbered street ("21 W. 52nd St." and
// "21 E. 62nd St."), a building, unit or room in a Chinese address. A
// number on one side only (an extension, a suite, a floor left out) is no
// conflict. It does not allocate.
func numbersConflict(a, b string) bool {
	if hasHan(a) && hasHan(b) {
		// Chinese addresses run together: compare their numbers, so that
		// 金桥新村26栋1单元2303室 and 金桥新村24栋2单元2802室 are two homes.
		return hasDigitRunNotIn(a, b) && hasDigitRunNotIn(b, a)
	}
	return hasNumberNotIn(a, b) && hasNumberNotIn(b, a)
}

// hasDigitRunNotIn reports whether a run of ASCII digits in a is not a run
// of b. It does not allocate.
func hasDigitRunNotIn(a, b string) bool {
	for ra := range digitRuns(a) {
		found := false
		for rb := range digitRuns(b) {
			if ra == rb {
				found = true
				break
			}
		}
		if !found {
			return true
		}
	}
	return false
}

// digitRuns yields the maximal runs of ASCII digits in s.
func digitRuns(s string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(s); {
			if s[i] < '0' || s[i] > '9' {
				i++
				continue
			}
			j := i
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			if !yield(s[i:j]) {
				return
			}
			i = j
		}
	}
}

// hasNumberNotIn reports whether an ASCII word of a holding a digit is not
// a word of b.
func hasNumberNotIn(a, b string) bool {
	for rest := a; ; {
		var t string
		t, rest = nextToken(rest)
		if t == "" {
			return false
		}
		if isASCII(t) && strings.ContainsAny(t, "0123456789") && !containsToken(b, t) {
			return true
		}
	}
}

// cutCommonNumber drops a leading number the two addresses share, with
// the space after it, when both go on.
func cutCommonNumber(a, b string) (string, string) {
	n := len(leadingDigits(a))
	if n == 0 || n >= len(a) || n >= len(b) || a[:n+1] != b[:n+1] || a[n] != ' ' {
		return a, b
	}
	return a[n+1:], b[n+1:]
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
