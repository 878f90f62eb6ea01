package dedupe

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// comparisonSample returns pairs of prepared customer records: every
// generated duplicate against its original, and neighbours in input order
// (mostly different customers), with a few Western values mixed in.
func comparisonSample(t testing.TB, m *Matcher) [][2][]normalised {
	recs, truth := newChineseGenerator(5).dataset(1500)
	recs = append(recs,
		Record{ID: "w1", Values: []string{"The ACME Widgets Co., Ltd.", "Dr. SMITH, John Jr.", "+1 650 253 0000", "j.smith@gmail.com", "10 Main Street"}},
		Record{ID: "w2", Values: []string{"Acme Widgets Inc", "j smith", "650-253-0001", "jsmith@gmail.com", "10 main st apt 4"}},
		Record{ID: "w3", Values: []string{"acme widget", "John Smyth", "6502530000", "smith.j@gmail.com", "main st 10"}},
		Record{ID: "w4", Values: []string{"a", "j", "1", "a@b", "x"}},
	)
	truth = append(truth, "w", "w", "w", "x")
	prep := make([][]normalised, len(recs))
	for i, r := range recs {
		p, err := m.prepare(r)
		require.NoError(t, err)
		prep[i] = p
	}
	var pairs [][2][]normalised
	for i := range prep {
		for d := 1; d <= 4 && i+d < len(prep); d++ {
			if d == 1 || truth[i] == truth[i+d] {
				pairs = append(pairs, [2][]normalised{prep[i], prep[i+d]})
			}
		}
	}
	return pairs
}

func TestFastComparisonsAgreeWithTheReference(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	pairs := comparisonSample(t, m)
	extra := []Kind{KindGivenName, KindFamilyName, KindStreet, KindText, KindNationalID, KindCity}
	for _, p := range pairs {
		for f, k := range m.cfg.Fields {
			require.Equal(t, referenceCompareField(k.Kind, p[0][f], p[1][f]), compareField(k.Kind, p[0][f], p[1][f]),
				"%s: %q vs %q", k.Kind, p[0][f].v, p[1][f].v)
			for _, ek := range extra {
				require.Equal(t, referenceCompareField(ek, p[0][f], p[1][f]), compareField(ek, p[0][f], p[1][f]),
					"%s: %q vs %q", ek, p[0][f].v, p[1][f].v)
			}
		}
	}
}

func TestNonExactLevelsListEveryLevelCompareFieldReturns(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	pairs := comparisonSample(t, m)
	for _, k := range Kinds() {
		for _, p := range pairs {
			for f := range m.cfg.Fields {
				a, b := p[0][f], p[1][f]
				if a.v == "" || b.v == "" || a.v == b.v {
					continue
				}
				l := compareField(k, a, b)
				require.NotZero(t, k.nonExactLevels()&(1<<l), "%s returned %s for %q vs %q", k, l, a.v, b.v)
			}
		}
	}
}

func TestScoreAtLeastAgreesWithScore(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	pairs := comparisonSample(t, m)
	tf := &frequencyTable{counts: []map[string]uint32{{"华腾科技": 40}, {}, nil, nil, {}}, total: 1000}
	for _, threshold := range []float64{-20, 0, m.cfg.PossibleWeight, m.cfg.MatchWeight, 25} {
		for _, table := range []termFrequencies{nil, tf} {
			for _, p := range pairs {
				want := m.score(p[0], p[1], table)
				got, ok := m.scoreAtLeast(p[0], p[1], table, threshold)
				require.Equal(t, want >= threshold, ok, "threshold %v score %v", threshold, want)
				if ok {
					require.Equal(t, want, got)
				} else {
					require.GreaterOrEqual(t, got+boundSlack, want, "the returned bound is at least the score")
				}
			}
		}
	}
}

func TestScoreAtLeastDoesNotAllocate(t *testing.T) {
	m, err := NewMatcher(&Config{Fields: CustomerFields()})
	require.NoError(t, err)
	pairs := comparisonSample(t, m)
	allocs := testing.AllocsPerRun(10, func() {
		for _, p := range pairs[:200] {
			m.scoreAtLeast(p[0], p[1], nil, m.cfg.MatchWeight)
		}
	})
	require.Zero(t, allocs)
}

func FuzzWithinOneEdit(f *testing.F) {
	f.Add("+8613800138000", "+8613800183000")
	f.Add("abc", "abcd")
	f.Add("ab", "ba")
	f.Add("li@x.com", "lj@x.com")
	f.Add("华腾", "华藤")
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := withinOneEdit(a, b), DamerauDistance(a, b, 1) <= 1; got != want {
			t.Fatalf("withinOneEdit(%q, %q) = %v, DamerauDistance says %v", a, b, got, want)
		}
	})
}

// referenceCompareField is compareField as first written, without its
// shortcuts: the fast paths must agree with it level for level.
func referenceCompareField(k Kind, a, b normalised) Level {
	if a.v == "" || b.v == "" {
		return LevelMissing
	}
	if a.v == b.v {
		if ra, rb := companyRegion(a.alt), companyRegion(b.alt); k == KindCompany && ra != "" && rb != "" && !sameArea(ra, rb) {
			// Same name in two regions: often two companies.
			return LevelPartial
		}
		return LevelExact
	}
	switch k {
	case KindName, KindGivenName, KindFamilyName:
		if a.alt != "" && a.alt == b.alt {
			return LevelClose // homophones: 李伟 and 李薇
		}
		if k != KindFamilyName && sameGivenName(a.v, b.v) {
			_, ra := nextToken(a.v)
			_, rb := nextToken(b.v)
			if k == KindGivenName || ra == rb {
				return LevelClose
			}
		}
		jw := JaroWinkler(a.v, b.v)
		if a.alt != "" && b.alt != "" {
			jw = max(jw, JaroWinkler(a.alt, b.alt)-0.04)
		}
		if k == KindName {
			jw = max(jw, MongeElkan(a.v, b.v))
		}
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		if k != KindName && (len(a.v) == 1 || len(b.v) == 1) && a.v[0] == b.v[0] {
			return LevelPartial // an initial
		}
		return LevelDifferent
	case KindCompany:
		if branchOf(a.v) != branchOf(b.v) {
			return LevelDifferent // a branch is a different customer
		}
		jw := max(JaroWinkler(a.v, b.v), MongeElkan(a.v, b.v))
		switch {
		case jw >= 0.93, sameReading(a.alt, b.alt):
			return LevelClose
		case jw >= 0.85 || nameWithin(a.v, b.v) || hanPrefix(a.v, b.v):
			return LevelPartial
		}
		return LevelDifferent
	case KindPhone:
		if d := DamerauDistance(a.v, b.v, 1); d <= 1 {
			return LevelPartial
		}
		return LevelDifferent
	case KindEmail:
		la, lb := localPart(a.v), localPart(b.v)
		da, db := a.v[len(la):], b.v[len(lb):]
		if la != "" && la == lb && (da == db || freeMail[da] || freeMail[db]) {
			return LevelClose // one mailbox name, at a free provider or one domain
		}
		if DamerauDistance(a.v, b.v, 1) <= 1 {
			return LevelPartial
		}
		if la != "" && lb != "" && da == db && !freeMail[da] {
			return LevelPartial // two people of one company's domain
		}
		return LevelDifferent
	case KindPostcode:
		switch DamerauDistance(a.v, b.v, 2) {
		case 1:
			return LevelClose
		case 2:
			return LevelPartial
		}
		return LevelDifferent
	case KindNationalID:
		if DamerauDistance(a.v, b.v, 1) <= 1 {
			return LevelClose
		}
		return LevelDifferent
	case KindState:
		return LevelDifferent
	case KindDate:
		return compareDates(a.v, b.v)
	case KindAddress, KindStreet:
		if numbersConflict(a.v, b.v) {
			return LevelDifferent // 837 and 840 Second Ave are two buildings
		}
		// One house number: the streets decide ("1 Mission St." and
		// "1 Market St." are two places).
		a.v, b.v = cutCommonNumber(a.v, b.v)
		short, long := a.v, b.v
		if len(short) > len(long) {
			short, long = long, short
		}
		// One address is the other plus detail ("at 10th st", a building).
		if mongeElkanOneWay(short, long) >= 0.97 {
			return LevelClose
		}
		jw := max(JaroWinkler(a.v, b.v), MongeElkan(a.v, b.v))
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		return LevelDifferent
	default:
		jw := max(JaroWinkler(a.v, b.v), MongeElkan(a.v, b.v))
		switch {
		case jw >= 0.92:
			return LevelClose
		case jw >= 0.8:
			return LevelPartial
		}
		return LevelDifferent
	}
}
