package dedupe

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestComparators(t *testing.T) {
	t.Parallel()
	require.InDelta(t, 0.961, JaroWinkler("martha", "marhta"), 0.001)
	require.InDelta(t, 0.840, JaroWinkler("dwayne", "duane"), 0.001)
	require.InDelta(t, 0.813, JaroWinkler("dixon", "dicksonx"), 0.001)
	require.Equal(t, 1.0, JaroWinkler("李伟", "李伟"))
	require.Equal(t, 0.0, JaroWinkler("", "x"))
	require.Equal(t, 3, EditDistance("kitten", "sitting", 5))
	require.Equal(t, 3, EditDistance("kitten", "sitting", 2), "limit+1 when over the limit")
	require.Equal(t, 2, EditDistance("19560409", "19564009", 3))
	require.Equal(t, 1, DamerauDistance("19560409", "19564009", 3))
	require.Equal(t, 1, EditDistance("华腾科技", "华藤科技", 3))
	require.Equal(t, 1.0, MongeElkan("john smith", "smith john"))
	require.Greater(t, MongeElkan("j smith", "john smith"), 0.9)
	require.InDelta(t, 0.5, TokenJaccard("a b c", "b c d e"), 0.11)
	require.Equal(t, 1.0, NumericCloseness(3, 3, 1))
	require.Equal(t, 0.5, NumericCloseness(3, 4, 2))
	d, ok := DaysApart("2024-02-28", "2024-03-01")
	require.True(t, ok)
	require.Equal(t, 2, d)
	_, ok = DaysApart("2024-02-28", "20240301")
	require.False(t, ok)
}

func FuzzComparators(f *testing.F) {
	f.Add("martha", "marhta")
	f.Add("华腾科技有限公司", "华藤科技")
	f.Add("", "x")
	f.Add("a b  c ", " c b a")
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, s := range []float64{JaroWinkler(a, b), MongeElkan(a, b), TokenJaccard(a, b)} {
			if s < 0 || s > 1.0000001 {
				t.Fatalf("similarity %v out of [0,1] for %q %q", s, a, b)
			}
		}
		require.InDelta(t, JaroWinkler(a, b), JaroWinkler(b, a), 1e-9, "Jaro-Winkler is symmetric")
		d := EditDistance(a, b, 3)
		require.Equal(t, d, EditDistance(b, a, 3))
		require.LessOrEqual(t, DamerauDistance(a, b, 3), d)
		if a == b {
			require.Zero(t, d)
		}
	})
}

func BenchmarkComparators(b *testing.B) {
	b.Run("JaroWinkler", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			JaroWinkler("北京华腾科技有限公司", "华腾科技北京有限公司")
		}
	})
	b.Run("DamerauDistance", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			DamerauDistance("19560409", "19564009", 2)
		}
	})
	b.Run("MongeElkan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			MongeElkan("john r smith", "smith john")
		}
	})
	b.Run("TokenJaccard", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			TokenJaccard("12224 ventura blvd", "12224 ventura blvd studio city")
		}
	})
	b.Run("ScorePreparedPair", func(b *testing.B) {
		m := febrlMatcher(b)
		x, err := m.prepare(Record{Values: []string{"mitchell", "green", "7", "wallaby place", "delmar", "cleveland", "2119", "sa", "19560409", "1804974"}})
		require.NoError(b, err)
		y, err := m.prepare(Record{Values: []string{"mitchel", "greene", "7", "wallaby pl", "", "cleveland", "2119", "sa", "19564009", "1804947"}})
		require.NoError(b, err)
		b.ReportAllocs()
		for b.Loop() {
			m.score(x, y, nil)
		}
	})
}

func TestComparingDoesNotAllocate(t *testing.T) {
	m := febrlMatcher(t)
	x, err := m.prepare(Record{Values: []string{"mitchell", "green", "7", "wallaby place", "delmar", "cleveland", "2119", "sa", "19560409", "1804974"}})
	require.NoError(t, err)
	y, err := m.prepare(Record{Values: []string{"mitchel", "greene", "7", "wallaby pl", "", "cleveland", "2119", "sa", "19564009", "1804947"}})
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		sink = JaroWinkler("北京华腾科技有限公司", "华腾科技北京有限公司")
		sink += float64(DamerauDistance("19560409", "19564009", 2))
		sink += MongeElkan("john r smith", "smith john")
		sink += TokenJaccard("a b c", "c d")
		sink += m.score(x, y, nil)
	})
	require.Zero(t, allocs)
}

// sink keeps the results of measured calls alive, so the compiler cannot
// drop a call whose result is unused.
var sink float64

func TestCompareDates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want Level
	}{
		{"1967-03-06", "1967-06-03", LevelClose},     // day and month swapped
		{"1967-03-06", "1967-03-08", LevelClose},     // a digit wrong
		{"1967-03-16", "1967-03-61", LevelClose},     // two digits swapped
		{"1967-03-06", "1867-03-06", LevelClose},     // a year digit wrong
		{"1967-03-06", "1967-03-29", LevelPartial},   // the day wrong
		{"1967-03-06", "1971-03-06", LevelPartial},   // the year wrong
		{"1967-03-06", "1968-03-07", LevelPartial},   // two slips
		{"1967-03-06", "1968-04-07", LevelDifferent}, // three
		{"1967-03-06", "1971-11-06", LevelDifferent}, // year and month wrong
		{"1862-01-71", "1862-01-11", LevelClose},     // an impossible day kept as typed
		{"19670306", "19670308", LevelClose},         // other forms by edit distance
		{"1967", "1967-03-06", LevelDifferent},
	} {
		require.Equal(t, c.want, compareDates(c.a, c.b), "%s vs %s", c.a, c.b)
		require.Equal(t, c.want, compareDates(c.b, c.a), "%s vs %s", c.b, c.a)
	}
}

func TestDateKeyReadsImpossibleDatesAsClerksWriteThem(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"1504-21-01": "1504-01-21", // day and month swapped
		"1862-01-71": "1862-01-71", // kept, one keystroke from the 11th
		"1831-87-18": "1831-87-18",
		"2024-02-30": "2024-02-30",
		"19670306":   "1967-03-06",
		"not a date": "",
		"12/31/1999": "1999-12-31", // month first
	} {
		require.Equal(t, want, dateKey(in), in)
	}
}

func FuzzDateKeyAndCompareDates(f *testing.F) {
	for _, s := range []string{"1504-21-01", "1862-01-71", "19670306", "2024年3月5日", "12/31/1999", "", "9999-99-99", "0-0-0"} {
		f.Add(s, "1967-03-06")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := dateKey(a), dateKey(b)
		if ka == "" || kb == "" || ka == kb {
			return
		}
		if l, r := compareDates(ka, kb), compareDates(kb, ka); l != r {
			t.Fatalf("compareDates(%q, %q) = %v but %v the other way", ka, kb, l, r)
		}
		if d, err := NormaliseDate(a); err == nil && d != ka {
			t.Fatalf("dateKey(%q) = %q, NormaliseDate says %q", a, ka, d)
		}
	})
}

func FuzzContactKeyAndNumbers(f *testing.F) {
	for _, s := range []string{"3434 peachtree rd. ne", "21 w. 52nd st.", "中山路123号", "1", "", "12 "} {
		f.Add(s, "3434 peachtree rd.")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if k := contactKey(KindAddress, a); !strings.HasPrefix(a, k) {
			t.Fatalf("contactKey(%q) = %q, not a prefix", a, k)
		}
		if numbersConflict(a, b) != numbersConflict(b, a) {
			t.Fatalf("numbersConflict(%q, %q) is not symmetric", a, b)
		}
		ca, cb := cutCommonNumber(a, b)
		if !strings.HasSuffix(a, ca) || !strings.HasSuffix(b, cb) {
			t.Fatalf("cutCommonNumber(%q, %q) = %q, %q", a, b, ca, cb)
		}
	})
}
