package dedupe

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestCorrelatedFieldsCountOnce(t *testing.T) {
	t.Parallel()
	fields := []Field{
		{Name: "surname", Kind: KindFamilyName},
		{Name: "suburb", Kind: KindCity},
		{Name: "postcode", Kind: KindPostcode},
		{Name: "state", Kind: KindState},
	}
	grouped, err := NewMatcher(&Config{Fields: fields})
	require.NoError(t, err)
	alone := make([]Field, len(fields))
	copy(alone, fields)
	for i := 1; i < len(alone); i++ {
		alone[i].Group = "-"
	}
	separate, err := NewMatcher(&Config{Fields: alone})
	require.NoError(t, err)

	a := Record{ID: "a", Values: []string{"smith", "st kilda", "3182", "vic"}}
	b := Record{ID: "b", Values: []string{"jones", "st kilda", "3182", "vic"}}
	dg, err := grouped.Compare(a, b)
	require.NoError(t, err)
	ds, err := separate.Compare(a, b)
	require.NoError(t, err)

	// Alone, the three place fields add up; grouped, only the strongest
	// counts and the others say why they do not.
	require.InDelta(t, ds.Reasons[1].Weight+ds.Reasons[2].Weight+ds.Reasons[3].Weight,
		dg.Reasons[1].Own+dg.Reasons[2].Own+dg.Reasons[3].Own, 1e-9)
	best := math.Max(dg.Reasons[1].Own, math.Max(dg.Reasons[2].Own, dg.Reasons[3].Own))
	require.InDelta(t, best, dg.Reasons[1].Weight+dg.Reasons[2].Weight+dg.Reasons[3].Weight, 1e-9)
	counted := 0
	for _, r := range dg.Reasons[1:] {
		if r.Note == noteCountedOnce {
			counted++
		}
	}
	require.Equal(t, 2, counted)
	require.Less(t, dg.Score, ds.Score)
	sum := 0.0
	for _, r := range dg.Reasons {
		sum += r.Weight
	}
	require.InDelta(t, dg.Score, sum, 1e-9, "the reasons add up to the score")
}

func TestNamesWeighedTogether(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Fields: []Field{
		{Name: "given_name", Kind: KindGivenName},
		{Name: "surname", Kind: KindFamilyName},
	}})
	require.NoError(t, err)
	for _, c := range []struct {
		name       string
		a, b       []string
		given, fam Level
		note       string
	}{
		{"as written", []string{"thomas", "chudleigh"}, []string{"thomas", "chudleigh"}, LevelExact, LevelExact, ""},
		{"swapped", []string{"chudleigh", "thomas"}, []string{"thomas", "chudleigh"}, LevelExact, LevelExact, noteSwapped},
		{"swapped with a typo", []string{"chudleigh", "thomas"}, []string{"thomas", "chudleigk"}, LevelExact, LevelClose, noteSwapped},
		{"surname in the given-name column", []string{"sugg", ""}, []string{"francis", "sugg"}, LevelMissing, LevelExact, noteSwapped},
		{"nickname", []string{"bill", "kerr"}, []string{"william", "kerr"}, LevelClose, LevelExact, ""},
		{"two people", []string{"rosalie", "watson"}, []string{"foster", "watson"}, LevelDifferent, LevelExact, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := m.Compare(Record{Values: c.a}, Record{Values: c.b})
			require.NoError(t, err)
			require.Equal(t, c.given, d.Reasons[0].Level, "given name")
			require.Equal(t, c.fam, d.Reasons[1].Level, "family name")
			require.Equal(t, c.note, d.Reasons[1].Note)
		})
	}
}

func TestCoherenceStopsAChainOfWeakLinks(t *testing.T) {
	t.Parallel()
	// A low match weight, so that the middle record, which shares only a
	// surname and a postcode with everyone, links to both people.
	m, err := NewMatcher(&Config{MatchWeight: 5, Fields: []Field{
		{Name: "given_name", Kind: KindGivenName},
		{Name: "surname", Kind: KindFamilyName},
		{Name: "dob", Kind: KindDate},
		{Name: "postcode", Kind: KindPostcode},
	}})
	require.NoError(t, err)
	// Two people; the middle record is near each of them and links to
	// both, but the two ends disagree on everything but the surname.
	recs := []Record{
		{ID: "a1", Values: []string{"rosalie", "watson", "1850-02-03", "n1 1ed"}},
		{ID: "a2", Values: []string{"rosalie", "watson", "1850-02-03", "n1 1ed"}},
		{ID: "m", Values: []string{"", "watson", "", "n1 1ed"}},
		{ID: "b1", Values: []string{"foster", "watson", "1860-06-27", "n1 1ed"}},
		{ID: "b2", Values: []string{"foster", "watson", "1860-06-27", "n1 1ed"}},
	}
	run := func(coherence float64) *Clustering {
		res, err := m.Cluster(Records(recs), &ClusterOptions{NoLearning: true, Coherence: coherence})
		require.NoError(t, err)
		return res
	}
	chained := run(math.Inf(-1))
	require.Equal(t, chained.Rep[0], chained.Rep[4], "without coherence the chain joins both people")
	res := run(0)
	require.NotEqual(t, res.Rep[0], res.Rep[4], "the two people stay apart")
	require.Equal(t, res.Rep[0], res.Rep[1])
	require.Equal(t, res.Rep[3], res.Rep[4])
}

func TestASharedContactPointWeighsNothingWhenNamesDisagree(t *testing.T) {
	t.Parallel()
	m, err := NewMatcher(&Config{Region: "US", Fields: []Field{
		{Name: "name", Kind: KindCompany},
		{Name: "phone", Kind: KindPhone},
		{Name: "address", Kind: KindAddress},
	}})
	require.NoError(t, err)
	recs := []Record{
		// Three restaurants of one hotel: its switchboard and address.
		{ID: "h1", Values: []string{"ritz-carlton cafe", "404-659-0400", "181 peachtree st."}},
		{ID: "h2", Values: []string{"ritz-carlton dining room", "404-659-0400", "181 peachtree st. ne"}},
		{ID: "h3", Values: []string{"atlanta grill", "404-659-0400", "181 peachtree st."}},
		// One restaurant listed twice, at a number nobody else has.
		{ID: "v1", Values: []string{"virgil's", "212-921-9494", "152 w. 44th st."}},
		{ID: "v2", Values: []string{"virgil's real bbq", "212-921-9494", "152 w. 44th st."}},
	}
	res, err := m.Cluster(Records(recs), &ClusterOptions{NoLearning: true})
	require.NoError(t, err)
	d, err := res.Explain(recs[0], recs[2])
	require.NoError(t, err)
	require.Equal(t, LevelMissing, d.Reasons[1].Level, "the hotel's switchboard says nothing about two of its restaurants")
	require.Equal(t, noteShared, d.Reasons[1].Note)
	require.Zero(t, d.Reasons[2].Weight)
	require.NotEqual(t, res.Rep[0], res.Rep[2])

	d, err = res.Explain(recs[3], recs[4])
	require.NoError(t, err)
	require.Equal(t, LevelExact, d.Reasons[1].Level, "a number only one restaurant gives counts in full")
	require.Equal(t, res.Rep[3], res.Rep[4])
}

func TestAFieldGroupMustBePrintable(t *testing.T) {
	t.Parallel()
	for _, g := range []string{"place\x00", strings.Repeat("g", 65)} {
		_, err := NewMatcher(&Config{Fields: []Field{{Name: "city", Kind: KindCity, Group: g}}})
		var es crm.ValidationErrors
		require.ErrorAs(t, err, &es)
		require.Equal(t, "fields[0].group", es[0].Field)
	}
}
