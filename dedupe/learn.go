package dedupe

import (
	"math"
	"math/rand/v2"
	"slices"
)

// minLearnRecords is the fewest records learning needs: random pairs of a
// handful of records say nothing about chance agreement.
const minLearnRecords = 200

// emPseudoPairs is how many pairs' worth of weight the starting m keeps
// during learning.
const emPseudoPairs = 50

// emTolerance ends expectation maximisation once no probability moves by
// more than this in a round.
const emTolerance = 1e-5

// learnt is what learning found in a table: the model and the chance that
// two records drawn at random from the table are of one entity.
type learnt struct {
	model *Matcher
	// pairMatch is the estimated share of matching pairs among all pairs
	// of the table, 0 when unknown.
	pairMatch float64
}

// learn estimates the model from the records without labels:
//   - u, the chance agreement of different entities, from random pairs
//     (almost all of which are non-matches);
//   - m, how often records of one entity agree, by expectation
//     maximisation over candidate pairs, one blocking rule at a time. The
//     fields of a rule agree in its pairs by construction, matches or
//     not, so a rule's pairs teach nothing about them: each rule's EM
//     leaves them out, with the fields of their groups, and a field's m
//     pools the expected counts of the
//     rules that do not use it;
//   - the share of matches among candidate pairs and among all pairs of
//     the table, from which the threshold of a table of any size follows.
func (mt *Matcher) learn(recs [][]normalised, bl *blocks, tf termFrequencies, o ClusterOptions) learnt {
	nf := len(mt.cfg.Fields)
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	n := len(recs)

	// u from random pairs, smoothed towards the defaults.
	u := slices.Clone(mt.u)
	counts := make([][numLevels]float64, nf)
	for range o.SamplePairs {
		i, j := rng.IntN(n), rng.IntN(n)
		if i == j {
			continue
		}
		for f := range nf {
			counts[f][mt.level(f, recs[i], recs[j])]++
		}
	}
	for f := range nf {
		seen := 0.0
		for l := LevelDifferent; l < numLevels; l++ {
			seen += counts[f][l]
		}
		if seen < 100 {
			continue
		}
		for l := LevelDifferent; l < numLevels; l++ {
			u[f][l] = (counts[f][l] + mt.u[f][l]) / (seen + 1)
		}
	}

	// Reservoir samples of candidate pairs: per rule, every pair its
	// blocks make; and once over all rules, each pair once, as scoring
	// will see them.
	type pair struct{ i, j int32 }
	nr := len(bl.rules)
	perRule := max(o.SamplePairs/max(nr, 1), 1000)
	ruleSample := make([][]pair, nr)
	ruleSeen := make([]int, nr)
	sample := make([]pair, 0, o.SamplePairs)
	seen := 0
	for _, g := range bl.groups {
		r := bl.ruleOf(bl.entries[g[0]])
		bl.eachPair(g, false, func(i, j int32) {
			ruleSeen[r]++
			if len(ruleSample[r]) < perRule {
				ruleSample[r] = append(ruleSample[r], pair{i, j})
			} else if k := rng.IntN(ruleSeen[r]); k < perRule {
				ruleSample[r][k] = pair{i, j}
			}
		})
		bl.pairs(g, func(i, j int32) {
			seen++
			if len(sample) < o.SamplePairs {
				sample = append(sample, pair{i, j})
			} else if k := rng.IntN(seen); k < o.SamplePairs {
				sample[k] = pair{i, j}
			}
		})
	}

	// m by EM, rule by rule, pooled.
	mNum := make([][numLevels]float64, nf)
	mDen := make([]float64, nf)
	buf := make([]byte, nf)
	for r, ps := range ruleSample {
		if len(ps) < 200 {
			continue
		}
		// The rule's fields, and the fields of their groups: pairs that
		// share a postcode by construction share its suburb and state.
		var used uint64
		for _, part := range bl.rules[r] {
			used |= 1 << uint(part.field)
			if part.orField > 0 {
				used |= 1 << uint(part.orField-1)
			}
			if g := mt.cfg.Fields[part.field].group(); g != "" {
				for f, fd := range mt.cfg.Fields {
					if fd.group() == g {
						used |= 1 << uint(f)
					}
				}
			}
		}
		patterns := map[string]float64{}
		for _, p := range ps {
			for f := range nf {
				l := LevelMissing
				if used&(1<<uint(f)) == 0 {
					l = mt.level(f, recs[p.i], recs[p.j])
				}
				buf[f] = byte(l)
			}
			patterns[string(buf)]++
		}
		num, den := mt.expectationMaximisation(patterns, u, o.EMIterations)
		for f := range nf {
			if used&(1<<uint(f)) != 0 {
				continue
			}
			for l := range numLevels {
				mNum[f][l] += num[f][l]
			}
			mDen[f] += den[f]
		}
	}
	m := slices.Clone(mt.m)
	for f := range nf {
		if mDen[f] < 1 {
			continue
		}
		for l := LevelDifferent; l < numLevels; l++ {
			m[f][l] = (mNum[f][l] + emPseudoPairs*mt.m[f][l]) / (mDen[f] + emPseudoPairs)
		}
		// A field whose learnt exact agreement no longer counts for a
		// match, or whose disagreement no longer counts against it, has
		// been learnt from another split of the pairs than "same entity":
		// it keeps its starting m.
		we := math.Log2(max(m[f][LevelExact], 1e-6) / max(u[f][LevelExact], 1e-9))
		wd := math.Log2(max(m[f][LevelDifferent], 1e-6) / max(u[f][LevelDifferent], 1e-9))
		if we <= 0 || wd >= 0 {
			m[f] = mt.m[f]
		}
	}
	model := mt.withParams(m, u, mt.prior)
	if len(sample) < 200 {
		return learnt{model: model}
	}

	// The share of matches among candidate pairs: the prior that makes
	// the expected share of matches equal the prior.
	scores := make([]float64, len(sample))
	for k, p := range sample {
		scores[k] = model.score(recs[p.i], recs[p.j], tf)
	}
	prior := 0.1
	for range 100 {
		lo := math.Log2(prior / (1 - prior))
		sum := 0.0
		for _, s := range scores {
			sum += 1 / (1 + math.Exp2(-(lo + s)))
		}
		next := min(max(sum/float64(len(scores)), 1e-9), 0.999)
		done := math.Abs(next-prior) < emTolerance*prior
		prior = next
		if done {
			break
		}
	}
	model.prior = prior
	all := float64(n) * float64(n-1) / 2
	return learnt{model: model, pairMatch: min(prior*float64(seen)/all, 0.5)}
}

// expectationMaximisation fits m (u held fixed) and the share of matches
// to agreement patterns with their counts, starting from mt's m, and
// returns the expected counts of each level among matches (num) and of
// matches with the field present (den).
func (mt *Matcher) expectationMaximisation(patterns map[string]float64, u [][numLevels]float64, rounds int) (num [][numLevels]float64, den []float64) {
	nf := len(mt.cfg.Fields)
	m := slices.Clone(mt.m)
	total := 0.0
	for _, c := range patterns {
		total += c
	}
	prior := 0.1
	for range rounds {
		num = make([][numLevels]float64, nf)
		den = make([]float64, nf)
		matches := 0.0
		for pat, cnt := range patterns {
			lm, lu := math.Log(prior), math.Log(1-prior)
			for f := range nf {
				l := Level(pat[f])
				if l == LevelMissing {
					continue
				}
				lm += math.Log(max(m[f][l], 1e-9))
				lu += math.Log(max(u[f][l], 1e-12))
			}
			g := 1 / (1 + math.Exp(lu-lm))
			matches += g * cnt
			for f := range nf {
				l := Level(pat[f])
				if l == LevelMissing {
					continue
				}
				num[f][l] += g * cnt
				den[f] += g * cnt
			}
		}
		prior = min(max(matches/total, 1e-6), 0.999)
		moved := 0.0
		for f := range nf {
			if den[f] < 1 {
				continue
			}
			for l := LevelDifferent; l < numLevels; l++ {
				next := (num[f][l] + emPseudoPairs*mt.m[f][l]) / (den[f] + emPseudoPairs)
				moved = max(moved, math.Abs(next-m[f][l]))
				m[f][l] = next
			}
		}
		if moved < emTolerance {
			break
		}
	}
	return num, den
}
