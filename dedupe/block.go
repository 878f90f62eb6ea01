package dedupe

import (
	"slices"
	"sync"
	"unicode/utf8"
)

// blockPart is one component of a blocking key: a field's prepared value
// (its alternative form first, when useAlt is set and there is one),
// whole or cut to its first prefix runes.
type blockPart struct {
	field  int
	useAlt bool
	prefix int
	// orField, when not 0, is 1 + the field whose value stands in when
	// this field is empty: a family name left blank is often found in the
	// given-name column.
	orField int
	// number reads only the value's leading number: an address's house
	// number.
	number bool
}

// blockRule makes one blocking key per record. Records that share a key
// are compared; a record missing any part of the rule has no key.
type blockRule []blockPart

// defaultRules derives blocking rules from the field kinds: identifiers
// alone (phone, e-mail, ID number, company, date, full name), then
// combinations that survive a typo in one of them (family name with a
// given initial, a name prefix with the postcode or the city, the street
// with the postcode or the city).
func defaultRules(fields []Field) []blockRule {
	first := func(kinds ...Kind) int {
		for _, k := range kinds {
			for i, f := range fields {
				if f.Kind == k {
					return i
				}
			}
		}
		return -1
	}
	var rules []blockRule
	for i, f := range fields {
		switch f.Kind {
		case KindPhone, KindEmail, KindNationalID, KindCompany, KindDate:
			rules = append(rules, blockRule{{field: i}})
		case KindName:
			rules = append(rules, blockRule{{field: i, useAlt: true}})
		}
	}
	fam, giv := first(KindFamilyName), first(KindGivenName)
	name := first(KindName, KindCompany, KindFamilyName, KindGivenName, KindText)
	place := first(KindPostcode, KindCity, KindState)
	street := first(KindStreet, KindAddress)
	if fam >= 0 && giv >= 0 {
		rules = append(rules,
			blockRule{{field: fam, useAlt: true}, {field: giv, useAlt: true, prefix: 1}},
			blockRule{{field: giv, useAlt: true}, {field: fam, useAlt: true, prefix: 1}})
	}
	// The name part of the rules below: a person's family name, or the
	// given name when the family name is blank (and probably typed there).
	namePart := func(prefix int) blockPart {
		p := blockPart{field: name, useAlt: true, prefix: prefix}
		if name == fam && giv >= 0 {
			p.orField = giv + 1
		}
		return p
	}
	if name >= 0 && place >= 0 {
		rules = append(rules, blockRule{namePart(3), {field: place}})
	}
	if pc := first(KindPostcode); pc >= 0 && street < 0 {
		// Without a street, the postcode alone: a few dozen addresses.
		rules = append(rules, blockRule{{field: pc}})
	}
	if giv >= 0 {
		if c := first(KindCity); c >= 0 {
			rules = append(rules, blockRule{{field: giv, useAlt: true, prefix: 3}, {field: c}})
		}
	}
	if name >= 0 {
		if c := first(KindCity); c >= 0 && c != place {
			rules = append(rules, blockRule{namePart(4), {field: c, prefix: 3}})
		}
		if d := first(KindDate); d >= 0 && fam >= 0 {
			rules = append(rules, blockRule{namePart(0), {field: d, prefix: 4}})
		}
	}
	if c := first(KindCity); street >= 0 && c >= 0 {
		// The house number in the town: the same building however its
		// street and its name are written.
		rules = append(rules, blockRule{{field: street, number: true}, {field: c, prefix: 3}})
	}
	if street >= 0 {
		rules = append(rules, blockRule{{field: street, prefix: 10}})
		if d := first(KindDate); d >= 0 {
			rules = append(rules, blockRule{{field: street, prefix: 6}, {field: d, prefix: 4}})
		}
	}
	return rules
}

// full returns the value the part reads, not cut to its prefix.
func (p blockPart) full(rec []normalised) string {
	f := p.field
	if rec[f].v == "" && p.orField > 0 {
		f = p.orField - 1
	}
	if p.useAlt && rec[f].alt != "" {
		return rec[f].alt
	}
	return rec[f].v
}

// prefixRunes returns the first n runes of s (all of s when n is 0).
func prefixRunes(s string, n int) string {
	if n <= 0 {
		return s
	}
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// key returns the rule's hashed key for a record, or 0 when a part is
// missing. The rule index is hashed in so rules never share keys.
func (r blockRule) key(rule int, rec []normalised) uint64 {
	h := uint64(fnvOffset)
	h = (h ^ uint64(rule+1)) * fnvPrime
	for _, p := range r {
		v := prefixRunes(p.full(rec), p.prefix)
		if p.number {
			v = leadingDigits(v)
		}
		if v == "" || !utf8.ValidString(v) {
			return 0
		}
		for i := 0; i < len(v); i++ {
			h = (h ^ uint64(v[i])) * fnvPrime
		}
		h = (h ^ 0xff) * fnvPrime
	}
	if h == 0 {
		h = 1
	}
	return h
}

// blockEntry places one record in one block.
type blockEntry struct {
	key uint64
	rec int32
}

// blocks groups records by blocking key and enumerates candidate pairs so
// that their number grows linearly with the records: a block larger than
// maxBlock is not compared all-pairs but through a sliding window over its
// records sorted by their first field, and a pair sharing several keys is
// produced once, by the first rule that small-block pairs it.
type blocks struct {
	rules    []blockRule
	keys     []uint64 // len(records) * len(rules), 0 = no key
	big      []uint64 // per record: bit r set when its rule-r block is windowed
	entries  []blockEntry
	groups   [][2]int // [start, end) ranges of entries with one key
	maxBlock int
	window   int
	large    int
}

func newBlocks(rules []blockRule, recs [][]normalised, maxBlock, window, workers int) *blocks {
	nr := len(rules)
	b := &blocks{rules: rules, keys: make([]uint64, len(recs)*nr), big: make([]uint64, len(recs)), maxBlock: maxBlock, window: window}
	// Keys in parallel, by ranges of records.
	var wg sync.WaitGroup
	chunk := max((len(recs)+workers-1)/max(workers, 1), 1)
	for lo := 0; lo < len(recs); lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				for r, rule := range rules {
					b.keys[i*nr+r] = rule.key(r, recs[i])
				}
			}
		}(lo, min(lo+chunk, len(recs)))
	}
	wg.Wait()
	n := 0
	for _, k := range b.keys {
		if k != 0 {
			n++
		}
	}
	b.entries = make([]blockEntry, 0, n)
	for i := range recs {
		for r := range nr {
			if k := b.keys[i*nr+r]; k != 0 {
				b.entries = append(b.entries, blockEntry{key: k, rec: int32(i)})
			}
		}
	}
	// Entries are in record order; a stable sort by key orders them by
	// key, then record.
	sortEntries(b.entries)
	for s := 0; s < len(b.entries); {
		e := s + 1
		for e < len(b.entries) && b.entries[e].key == b.entries[s].key {
			e++
		}
		if e-s > 1 {
			b.groups = append(b.groups, [2]int{s, e})
			if e-s > maxBlock {
				b.large++
				r := b.ruleOf(b.entries[s])
				for _, en := range b.entries[s:e] {
					b.big[en.rec] |= 1 << uint(r)
				}
				// Window order: by the rule's fields written in full, then
				// by the record's first field, so that records whose cut
				// parts agree beyond the cut sit near each other (in the
				// block of surname "smith" and given initial "j", "john"
				// next to "jhon").
				g := b.entries[s:e]
				rule := b.rules[r]
				slices.SortStableFunc(g, func(x, y blockEntry) int {
					for _, p := range rule {
						if c := compareStrings(p.full(recs[x.rec]), p.full(recs[y.rec])); c != 0 {
							return c
						}
					}
					return compareStrings(firstValue(recs[x.rec]), firstValue(recs[y.rec]))
				})
			}
		}
		s = e
	}
	return b
}

func firstValue(rec []normalised) string {
	for _, n := range rec {
		if n.v != "" {
			return n.v
		}
	}
	return ""
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ruleOf finds which rule produced an entry.
func (b *blocks) ruleOf(e blockEntry) int {
	nr := len(b.rules)
	for r := range nr {
		if b.keys[int(e.rec)*nr+r] == e.key {
			return r
		}
	}
	return 0
}

// duplicate reports whether the pair was already produced by an earlier
// rule that compared it all-pairs.
func (b *blocks) duplicate(i, j int32, rule int) bool {
	nr := len(b.rules)
	ki, kj := b.keys[int(i)*nr:int(i)*nr+nr], b.keys[int(j)*nr:int(j)*nr+nr]
	for r := range rule {
		if ki[r] != 0 && ki[r] == kj[r] && b.big[i]&(1<<uint(r)) == 0 {
			return true
		}
	}
	return false
}

// pairs calls fn for every candidate pair of group g that no earlier rule
// produced.
func (b *blocks) pairs(g [2]int, fn func(i, j int32)) { b.eachPair(g, true, fn) }

// eachPair calls fn for every pair group g compares, skipping pairs an
// earlier rule produced when once is set.
func (b *blocks) eachPair(g [2]int, once bool, fn func(i, j int32)) {
	es := b.entries[g[0]:g[1]]
	rule := b.ruleOf(es[0])
	w := len(es)
	if len(es) > b.maxBlock {
		w = b.window + 1
	}
	for x := range es {
		for y := x + 1; y < len(es) && y < x+w; y++ {
			i, j := es[x].rec, es[y].rec
			if i == j || (once && b.duplicate(i, j, rule)) {
				continue
			}
			if i > j {
				i, j = j, i
			}
			fn(i, j)
		}
	}
}

// sortEntries sorts entries by key, keeping the order of equal keys: a
// least-significant-digit radix sort, 16 bits a pass, several times faster
// than a comparison sort on the millions of entries of a large table.
func sortEntries(es []blockEntry) {
	if len(es) < 256 {
		slices.SortStableFunc(es, func(x, y blockEntry) int { return compareKeys(x.key, y.key) })
		return
	}
	tmp := make([]blockEntry, len(es))
	src, dst := es, tmp
	var count [1 << 16]int
	for shift := uint(0); shift < 64; shift += 16 {
		clear(count[:])
		for _, e := range src {
			count[(e.key>>shift)&0xffff]++
		}
		pos := 0
		for d, c := range count {
			count[d] = pos
			pos += c
		}
		for _, e := range src {
			d := (e.key >> shift) & 0xffff
			dst[count[d]] = e
			count[d]++
		}
		src, dst = dst, src
	}
	// Four passes: the sorted entries are back in es.
}

func compareKeys(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
