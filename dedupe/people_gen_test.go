package dedupe

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// peopleGenerator makes FEBRL-style person records (given name, surname,
// street number, street, address line 2, suburb, postcode, state, date of
// birth, national ID) with duplicates as clerks type them, and known
// answers. Unlike FEBRL's own generator it draws surnames and places with
// realistic, heavy-tailed frequencies and keeps addresses consistent (a
// suburb lies in one postcode and one state, several suburbs share a
// postcode), so that at a million rows many different people share a
// common surname and a suburb: the hard case for precision.
type peopleGenerator struct {
	rng        *rand.Rand
	surnames   weighted
	givenNames weighted
	streets    []string
	places     []genPlace
	placeW     weighted
}

// genPlace is one suburb with its postcode and state.
type genPlace struct{ suburb, postcode, state string }

// weighted draws indexes with Zipf-like weights.
type weighted struct {
	names []string
	cum   []float64
}

func newWeighted(names []string, exponent float64) weighted {
	w := weighted{names: names, cum: make([]float64, len(names))}
	total := 0.0
	for i := range names {
		total += 1 / math.Pow(float64(i+1), exponent)
		w.cum[i] = total
	}
	for i := range w.cum {
		w.cum[i] /= total
	}
	return w
}

func (w weighted) draw(rng *rand.Rand) int {
	x := rng.Float64()
	lo, hi := 0, len(w.cum)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if w.cum[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}

var (
	genCommonSurnames = strings.Fields(`smith jones williams brown wilson taylor johnson white martin anderson
		thompson nguyen thomas walker harris lee ryan robinson kelly king davis wright evans roberts green hall
		wood jackson clarke patel khan lewis james phillips mitchell turner campbell murphy cooper ward morris
		edwards young hughes scott stewart baker moore collins murray hill allen price bell watson bennett
		reid cook carter mcdonald ross graham wong chen tran singh kennedy marshall russell mason richardson
		hunt stevens johnston pearce walsh palmer webb ellis grant simpson fraser barnes matthews shaw harvey
		lloyd lawrence gray butler fisher carroll knight dunn hayes brennan jenkins cole parker bailey burns`)
	genFirstNames = strings.Fields(`jack james william thomas oliver joshua samuel daniel benjamin lachlan
		ryan matthew luke liam ethan noah alexander nicholas lucas cooper jayden riley harrison dylan mitchell
		charlotte olivia emily chloe sophie isabella jessica ella mia grace hannah emma sarah georgia lily
		amelia ruby zoe madison lauren caitlin jasmine kate lucy abbey mackenzie bianca tahlia jade
		michael david john robert peter andrew mark paul christopher stephen anthony richard brian kevin
		margaret elizabeth patricia jennifer linda susan karen helen catherine nicole rebecca rachel
		joseph edward charles henry george frederick arthur francis albert harold walter alfred
		mary anne jane dorothy joan betty doris irene gwen rose edith alice florence ivy`)
	genNicknames = map[string][]string{"william": {"bill", "will", "billy"}, "thomas": {"tom", "tommy"},
		"robert": {"bob", "rob", "bobby"}, "james": {"jim", "jimmy"}, "joseph": {"joe"}, "michael": {"mike", "mick"},
		"elizabeth": {"liz", "beth", "betty"}, "margaret": {"maggie", "peggy", "meg"}, "catherine": {"kate", "cathy"},
		"richard": {"dick", "rick"}, "edward": {"ted", "ed", "eddie"}, "charles": {"charlie", "chuck"},
		"alexander": {"alex"}, "samuel": {"sam"}, "benjamin": {"ben"}, "nicholas": {"nick"}, "daniel": {"dan", "danny"},
		"matthew": {"matt"}, "christopher": {"chris"}, "jennifer": {"jen", "jenny"}, "patricia": {"pat", "trish"},
		"susan": {"sue"}, "rebecca": {"becky"}, "francis": {"frank"}, "frederick": {"fred"}, "henry": {"harry"},
		"anthony": {"tony"}, "andrew": {"andy"}, "stephen": {"steve"}, "david": {"dave"}, "peter": {"pete"},
		"isabella": {"bella"}, "jessica": {"jess"}, "sarah": {"sally"}, "dorothy": {"dot"}, "albert": {"bert"}}
	genStates       = []string{"nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"}
	genStreetTypes  = []string{"street", "road", "avenue", "place", "crescent", "drive", "court", "parade", "close", "way"}
	genAddress2     = []string{"unit", "flat", "villa", "lot", "rsd", "kenmore", "the oaks", "rowethorpe", "brentwood vlge"}
	genSyllables    = strings.Fields("ka ra mi lo na te wo bel ar den ly son ham ton ford field wick by ley more dale hurst burn mont ville vale ridge glen bro kin war ran gal tar ool ong arra bun dar mur wal lin")
	genTypoAlphabet = "abcdefghijklmnopqrstuvwxyz"
)

func newPeopleGenerator(seed uint64) *peopleGenerator {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	g := &peopleGenerator{rng: rng}
	word := func(parts int) string {
		var b strings.Builder
		for range parts {
			b.WriteString(genSyllables[rng.IntN(len(genSyllables))])
		}
		return b.String()
	}
	unique := func(n int, gen func() string, start []string) []string {
		seen := map[string]bool{}
		out := make([]string, 0, n)
		for _, s := range start {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		for len(out) < n {
			s := gen()
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
		return out
	}
	// Surnames: the common ones first, then a long tail, so the most
	// common covers about one person in seventy.
	g.surnames = newWeighted(unique(30000, func() string { return word(2 + rng.IntN(2)) }, genCommonSurnames), 0.95)
	g.givenNames = newWeighted(unique(1500, func() string { return word(2 + rng.IntN(2)) }, genFirstNames), 1.05)
	g.streets = unique(6000, func() string { return word(2+rng.IntN(2)) + " " + genStreetTypes[rng.IntN(len(genStreetTypes))] }, nil)
	// Places: suburbs grouped into postcodes (one to four suburbs each),
	// postcodes into states by the state's first digit.
	suburbs := unique(8000, func() string {
		s := word(2 + rng.IntN(2))
		if rng.IntN(8) == 0 {
			s = []string{"north ", "south ", "east ", "west ", "mount ", "port "}[rng.IntN(6)] + s
		}
		return s
	}, nil)
	usedPostcodes := map[string]bool{}
	for i := 0; i < len(suburbs); {
		st := rng.IntN(len(genStates))
		var pc string
		for {
			pc = fmt.Sprintf("%d%03d", st+1, rng.IntN(1000))
			if !usedPostcodes[pc] {
				usedPostcodes[pc] = true
				break
			}
		}
		for k := 1 + rng.IntN(4); k > 0 && i < len(suburbs); k-- {
			g.places = append(g.places, genPlace{suburb: suburbs[i], postcode: pc, state: genStates[st]})
			i++
		}
	}
	rng.Shuffle(len(g.places), func(i, j int) { g.places[i], g.places[j] = g.places[j], g.places[i] })
	names := make([]string, len(g.places))
	g.placeW = newWeighted(names, 0.8)
	return g
}

// person is one real person.
type person struct {
	given, surname, number, street, address2 string
	place                                    genPlace
	dob, ssid                                string
}

func (g *peopleGenerator) person(ssid int) person {
	r := g.rng
	p := person{
		given:   g.givenNames.names[g.givenNames.draw(r)],
		surname: g.surnames.names[g.surnames.draw(r)],
		number:  fmt.Sprint(1 + int(math.Floor(math.Exp(r.Float64()*5.5)))),
		street:  g.streets[r.IntN(len(g.streets))],
		place:   g.places[g.placeW.draw(r)],
		dob:     fmt.Sprintf("%04d%02d%02d", 1925+r.IntN(85), 1+r.IntN(12), 1+r.IntN(28)),
		ssid:    fmt.Sprintf("%08d", ssid),
	}
	if r.IntN(3) == 0 {
		p.address2 = genAddress2[r.IntN(len(genAddress2))]
		if p.address2 == "unit" || p.address2 == "flat" || p.address2 == "lot" {
			p.address2 += fmt.Sprint(" ", 1+r.IntN(40))
		}
	}
	return p
}

func (p person) values() []string {
	return []string{p.given, p.surname, p.number, p.street, p.address2, p.place.suburb, p.place.postcode, p.place.state, p.dob, p.ssid}
}

// typo makes one keying error: a letter inserted, dropped, replaced or
// two letters swapped; digits stay digits.
func (g *peopleGenerator) typo(s string) string {
	if s == "" {
		return s
	}
	b := []byte(s)
	i := g.rng.IntN(len(b))
	alphabet := genTypoAlphabet
	if b[i] >= '0' && b[i] <= '9' {
		alphabet = "0123456789"
	}
	c := alphabet[g.rng.IntN(len(alphabet))]
	switch g.rng.IntN(4) {
	case 0:
		return string(b[:i]) + string(c) + string(b[i:])
	case 1:
		if len(b) > 1 {
			return string(b[:i]) + string(b[i+1:])
		}
	case 2:
		if i+1 < len(b) {
			b[i], b[i+1] = b[i+1], b[i]
			return string(b)
		}
	}
	b[i] = c
	return string(b)
}

// duplicate copies a person's record with one to three errors of the
// kinds clerks make.
func (g *peopleGenerator) duplicate(p person) []string {
	v := p.values()
	r := g.rng
	for range 1 + r.IntN(3) {
		switch k := r.IntN(20); {
		case k < 7: // a typo in any field
			f := r.IntN(len(v))
			v[f] = g.typo(v[f])
		case k < 10: // a field left blank
			v[r.IntN(len(v))] = ""
		case k == 10: // given name and surname swapped
			v[0], v[1] = v[1], v[0]
		case k == 11: // a nickname or an initial
			if nick, ok := genNicknames[p.given]; ok {
				v[0] = nick[r.IntN(len(nick))]
			} else if v[0] != "" {
				v[0] = v[0][:1]
			}
		case k == 12: // day and month swapped
			if len(v[8]) == 8 && v[8][6] <= '1' {
				v[8] = v[8][:4] + v[8][6:] + v[8][4:6]
			}
		case k < 15: // a digit wrong in the date or the ID
			f := []int{8, 9}[r.IntN(2)]
			if v[f] != "" {
				b := []byte(v[f])
				b[r.IntN(len(b))] = byte('0' + r.IntN(10))
				v[f] = string(b)
			}
		case k == 15: // a postcode digit wrong
			if len(v[6]) == 4 {
				b := []byte(v[6])
				b[1+r.IntN(3)] = byte('0' + r.IntN(10))
				v[6] = string(b)
			}
		case k == 16: // street number missing or different
			v[2] = fmt.Sprint(1 + r.IntN(200))
		case k == 17: // address line 2 added or dropped
			if v[4] == "" {
				v[4] = genAddress2[r.IntN(len(genAddress2))]
			} else {
				v[4] = ""
			}
		default: // a neighbouring suburb of the same postcode or a typo there
			v[5] = g.typo(v[5])
		}
	}
	return v
}

// dataset returns n records: a quarter of the people have one to three
// duplicates. truth[i] names the person of record i.
func (g *peopleGenerator) dataset(n int) (recs []Record, truth []string) {
	recs = make([]Record, 0, n)
	truth = make([]string, 0, n)
	ids := g.rng.Perm(max(n*2, 100))
	for i := 0; len(recs) < n; i++ {
		p := g.person(ids[i%len(ids)] + 10_000_000)
		id := fmt.Sprint(i)
		recs = append(recs, Record{ID: id + "-org", Values: p.values()})
		truth = append(truth, id)
		if g.rng.IntN(4) == 0 {
			for d := range 1 + g.rng.IntN(3) {
				if len(recs) == n {
					break
				}
				recs = append(recs, Record{ID: fmt.Sprintf("%s-dup-%d", id, d), Values: g.duplicate(p)})
				truth = append(truth, id)
			}
		}
	}
	return recs, truth
}
