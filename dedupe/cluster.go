package dedupe

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/crmkit/crmkit/crm"
)

// ClusterOptions tune [Matcher.Cluster]. The zero value is the default.
type ClusterOptions struct {
	// MaxClusterSize caps how many records one cluster may hold: links are
	// taken strongest first and a link that would grow a cluster past the
	// cap is refused, so a chain of weak links cannot glue thousands of
	// records together. Defaults to 50.
	MaxClusterSize int
	// Coherence is the mean score, in bits, that the records of two
	// clusters must reach with each other for a link to join them: every
	// record of one is compared with every record of the other. It stops
	// a chain of links, each strong alone, from gluing together records
	// that disagree. Defaults to 6; math.Inf(-1) joins on any link.
	Coherence float64
	// MaxBlockSize is the largest block compared all-pairs; larger blocks
	// are compared through a sliding window. Defaults to 20.
	MaxBlockSize int
	// Window is how many neighbours each record of a large block is
	// compared with. Defaults to 6.
	Window int
	// MatchProbability is the match probability from which two records
	// are linked, given the share of matching pairs learnt from the
	// table: the same evidence means less in a table of a million rows,
	// where any one pair is far less likely to match, than in one of a
	// thousand, so the score a link needs grows with the table and keeps
	// the same meaning. A link never needs less than the configured
	// MatchWeight. Defaults to 0.5.
	MatchProbability float64
	// NoLearning keeps the matcher's parameters instead of learning them
	// from the records. Defaults to false: parameters are learnt.
	NoLearning bool
	// EMIterations bounds the expectation-maximisation rounds. Defaults to 25.
	EMIterations int
	// SamplePairs is how many candidate pairs (and as many random pairs)
	// learning looks at. Defaults to 40000.
	SamplePairs int
	// Seed makes the random pairs reproducible. Defaults to 1.
	Seed uint64
	// Workers is how many goroutines score pairs; they all end before
	// Cluster returns. Defaults to GOMAXPROCS.
	Workers int
	// Progress, when set, is called from the calling goroutine as work
	// advances. Defaults to none.
	Progress func(Progress)
}

func (o ClusterOptions) withDefaults() ClusterOptions {
	if o.MaxClusterSize == 0 {
		o.MaxClusterSize = 50
	}
	if o.MaxBlockSize == 0 {
		o.MaxBlockSize = 20
	}
	if o.Window == 0 {
		o.Window = 6
	}
	if o.Coherence == 0 {
		o.Coherence = 6
	}
	if o.MatchProbability == 0 {
		o.MatchProbability = 0.5
	}
	if o.EMIterations == 0 {
		o.EMIterations = 25
	}
	if o.SamplePairs == 0 {
		o.SamplePairs = 40000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Workers == 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	return o
}

func (o ClusterOptions) validate() error {
	var errs crm.ValidationErrors
	if o.MaxClusterSize < 2 {
		errs = append(errs, crm.Invalid("max_cluster_size", "must be at least 2"))
	}
	if o.MaxBlockSize < 2 {
		errs = append(errs, crm.Invalid("max_block_size", "must be at least 2"))
	}
	if math.IsNaN(o.Coherence) || math.IsInf(o.Coherence, 1) {
		errs = append(errs, crm.Invalid("coherence", "must be a number of bits, or negative infinity to join on any link"))
	}
	if !(o.MatchProbability > 0 && o.MatchProbability < 1) {
		errs = append(errs, crm.Invalid("match_probability", "must be between 0 and 1, exclusive"))
	}
	if o.Window < 1 {
		errs = append(errs, crm.Invalid("window", "must be at least 1"))
	}
	if o.EMIterations < 0 || o.SamplePairs < 0 || o.Workers < 0 {
		errs = append(errs, crm.Invalid("em_iterations", "counts must not be negative"))
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Progress reports how far [Matcher.Cluster] has come.
type Progress struct {
	// Stage is "prepare", "block", "learn", "score" or "cluster".
	Stage string
	// Done of Total units (records or blocks) are finished; Total is 0
	// while unknown (records still streaming in).
	Done, Total int
}

// ClusterStats describe a clustering run.
type ClusterStats struct {
	Records int
	// CandidatePairs is how many pairs blocking produced and were scored.
	CandidatePairs int
	// MatchedPairs scored at least the match weight.
	MatchedPairs int
	// RefusedLinks were matched pairs not followed because the cluster
	// would have outgrown ClusterOptions.MaxClusterSize.
	RefusedLinks int
	// LargeBlocks were compared through a sliding window.
	LargeBlocks int
	// Clusters counts clusters, single records included.
	Clusters int
	// PairMatchShare is the learnt share of matching pairs among all
	// pairs of the table, 0 when not learnt.
	PairMatchShare float64
	// LinkWeight is the score from which pairs were linked: the match
	// weight of the configuration, or more in a large table, where
	// matching pairs are rarer (see ClusterOptions.MatchProbability).
	LinkWeight float64
}

// Clustering is the result of [Matcher.Cluster].
type Clustering struct {
	// IDs are the record IDs in input order.
	IDs []string
	// Rep gives, for each record, the index of its cluster's first record
	// in input order; records with the same Rep are duplicates.
	Rep []int32
	// Matcher is the matcher with the parameters learnt from the records.
	Matcher *Matcher
	Stats   ClusterStats

	tf     *frequencyTable
	shared []map[string]bool
}

// Explain compares two records as the run did, with the learnt parameters
// and the run's value frequencies, and returns the decision with one
// reason per field.
func (c *Clustering) Explain(a, b Record) (Decision, error) {
	pa, err := c.Matcher.prepare(a)
	if err != nil {
		return Decision{}, err
	}
	pb, err := c.Matcher.prepare(b)
	if err != nil {
		return Decision{}, err
	}
	for f, marks := range c.shared {
		k := c.Matcher.cfg.Fields[f].Kind
		pa[f].shared, pb[f].shared = marks[contactKey(k, pa[f].v)], marks[contactKey(k, pb[f].v)]
	}
	return c.Matcher.decide(pa, pb, c.tf), nil
}

// ClusterID returns the cluster of record i, named by the ID of the
// cluster's first record.
func (c *Clustering) ClusterID(i int) string { return c.IDs[c.Rep[i]] }

// Pairs calls fn for every pair of records in the same cluster, i < j.
func (c *Clustering) Pairs(fn func(i, j int)) {
	members := map[int32][]int{}
	for i, r := range c.Rep {
		members[r] = append(members[r], i)
	}
	for _, ms := range members {
		for x := range ms {
			for y := x + 1; y < len(ms); y++ {
				fn(ms[x], ms[y])
			}
		}
	}
}

// frequencyTable counts prepared values of the term-frequency fields.
type frequencyTable struct {
	counts []map[string]uint32
	total  int
}

func (t *frequencyTable) frequency(field int, value string) (int, int) {
	if t.counts[field] == nil {
		return 0, 0
	}
	return int(t.counts[field][value]), t.total
}

// fill stores in each prepared value its count, so scoring finds it
// without a map lookup per pair.
func (t *frequencyTable) fill(recs [][]normalised, workers int) {
	var wg sync.WaitGroup
	chunk := max((len(recs)+workers-1)/max(workers, 1), 1)
	for lo := 0; lo < len(recs); lo += chunk {
		wg.Add(1)
		go func(part [][]normalised) {
			defer wg.Done()
			for _, rec := range part {
				for f := range rec {
					if c := t.counts[f]; c != nil && rec[f].v != "" {
						rec[f].freq = c[rec[f].v]
					}
				}
			}
		}(recs[lo:min(lo+chunk, len(recs))])
	}
	wg.Wait()
}

// markShared marks the contact points that records give under names that
// disagree (two businesses, not one written two ways), or that three
// records or more give under names written differently (a hotel's
// restaurants; see Matcher.level), one goroutine a contact field, and
// returns the shared contact keys of each field.
func (mt *Matcher) markShared(recs [][]normalised) []map[string]bool {
	shared := make([]map[string]bool, len(mt.cfg.Fields))
	if mt.identity < 0 {
		return shared
	}
	var wg sync.WaitGroup
	for f, fd := range mt.cfg.Fields {
		if !fd.Kind.contactPoint() {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			type use struct {
				count int32
				name  normalised
				// spelt: the value comes with names written two ways;
				// names: with two names that disagree.
				spelt, names bool
			}
			idKind := mt.cfg.Fields[mt.identity].Kind
			// Values, not pointers: a million contact points are a
			// million fewer objects to allocate and trace.
			uses := map[string]use{}
			for _, rec := range recs {
				v := contactKey(fd.Kind, rec[f].v)
				if v == "" {
					continue
				}
				u := uses[v]
				u.count++
				if name := rec[mt.identity]; name.v != "" && !u.names {
					switch {
					case u.name.v == "":
						u.name = name
					case u.name.v != name.v:
						u.spelt = true
						u.names = compareField(idKind, u.name, name) == LevelDifferent && !nameWithin(u.name.v, name.v)
					}
				}
				uses[v] = u
			}
			marks := map[string]bool{}
			for v, u := range uses {
				if u.names || (u.spelt && u.count >= 3) {
					marks[v] = true
				}
			}
			for _, rec := range recs {
				if marks[contactKey(fd.Kind, rec[f].v)] {
					rec[f].shared = true
				}
			}
			shared[f] = marks
		}()
	}
	wg.Wait()
	return shared
}

// Records returns a sequence over a slice of records, for [Matcher.Cluster].
func Records(rs []Record) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		for _, r := range rs {
			if !yield(r, nil) {
				return
			}
		}
	}
}

// Cluster groups records that describe the same customer. Records stream
// in from seq and are kept only in prepared form; an error from seq stops
// the run and is returned. Unless told not to, it first learns the model's
// parameters from the records (u from random pairs, m and the prior by
// expectation-maximisation over candidate pairs), then scores every
// candidate pair with rarity-adjusted weights and links matches, strongest
// first, into clusters no larger than the cap.
func (mt *Matcher) Cluster(seq iter.Seq2[Record, error], opts *ClusterOptions) (*Clustering, error) {
	var o ClusterOptions
	if opts != nil {
		o = *opts
	}
	o = o.withDefaults()
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("dedupe: cluster: %w", err)
	}
	report := func(stage string, done, total int) {
		if o.Progress != nil {
			o.Progress(Progress{Stage: stage, Done: done, Total: total})
		}
	}
	nf := len(mt.cfg.Fields)
	tf := &frequencyTable{counts: make([]map[string]uint32, nf)}
	for i, f := range mt.cfg.Fields {
		if f.Kind.usesTermFrequency() {
			tf.counts[i] = map[string]uint32{}
		}
	}
	var ids []string
	var recs [][]normalised
	var pending [][]string
	caches := make([]readingCache, o.Workers)
	for w := range caches {
		caches[w] = readingCache{}
	}
	flush := func() {
		start := len(recs)
		recs = append(recs, make([][]normalised, len(pending))...)
		mt.prepareParallel(recs[start:], pending, caches)
		pending = pending[:0]
		report("prepare", len(recs), 0)
	}
	for r, err := range seq {
		if err != nil {
			return nil, err
		}
		if len(r.Values) != nf {
			return nil, fmt.Errorf("dedupe: cluster: record %d (%q): %w", len(ids)+1, truncateText(r.ID),
				crm.Invalid("values", "want %d values, one per field, got %d", nf, len(r.Values)))
		}
		if len(ids) >= math.MaxInt32-1 {
			return nil, errors.New("dedupe: cluster: too many records")
		}
		ids = append(ids, r.ID)
		pending = append(pending, r.Values)
		if len(pending) == 8192 {
			flush()
		}
	}
	flush()
	n := len(recs)
	report("prepare", n, n)
	// Term frequencies, one goroutine per counted field, while blocking
	// runs on the others.
	var tfDone sync.WaitGroup
	for i, c := range tf.counts {
		if c == nil {
			continue
		}
		tfDone.Add(1)
		go func() {
			defer tfDone.Done()
			for _, rec := range recs {
				if v := rec[i].v; v != "" {
					c[v]++
				}
			}
		}()
	}
	tf.total = n
	bl := newBlocks(defaultRules(mt.cfg.Fields), recs, o.MaxBlockSize, o.Window, o.Workers)
	tfDone.Wait()
	tf.fill(recs, o.Workers)
	shared := mt.markShared(recs)
	report("block", len(bl.groups), len(bl.groups))

	found := learnt{model: mt}
	if !o.NoLearning && n >= minLearnRecords {
		report("learn", 0, 1)
		found = mt.learn(recs, bl, tf, o)
		report("learn", 1, 1)
	}
	model := found.model
	threshold := model.cfg.MatchWeight
	if lam := found.pairMatch; lam > 0 {
		// The evidence a pair needs for the chosen match probability,
		// given how rare matching pairs are in a table of this size.
		threshold = max(threshold, math.Log2((1-lam)/lam)+math.Log2(o.MatchProbability/(1-o.MatchProbability)))
	}

	edges, candidates := model.scoreBlocks(recs, bl, tf, threshold, o, report)
	res := &Clustering{IDs: ids, Matcher: model, tf: tf, shared: shared}
	res.Stats = ClusterStats{Records: n, CandidatePairs: candidates, MatchedPairs: len(edges), LargeBlocks: bl.large,
		PairMatchShare: found.pairMatch, LinkWeight: threshold}
	res.Rep, res.Stats.RefusedLinks = model.linkClusters(recs, tf, edges, o.MaxClusterSize, o.Coherence)
	for i, r := range res.Rep {
		if int(r) == i {
			res.Stats.Clusters++
		}
	}
	report("cluster", n, n)
	return res, nil
}

// prepareParallel normalises raw values into out using one goroutine per
// cache.
func (mt *Matcher) prepareParallel(out [][]normalised, raw [][]string, caches []readingCache) {
	var wg sync.WaitGroup
	workers := len(caches)
	chunk := max((len(raw)+workers-1)/workers, 1)
	for w, lo := 0, 0; lo < len(raw); w, lo = w+1, lo+chunk {
		hi := min(lo+chunk, len(raw))
		wg.Add(1)
		go func(lo, hi int, cache readingCache) {
			defer wg.Done()
			nf := len(mt.cfg.Fields)
			slab := make([]normalised, (hi-lo)*nf)
			size := 0
			for i := lo; i < hi; i++ {
				rec := slab[(i-lo)*nf : (i-lo+1)*nf : (i-lo+1)*nf]
				for f, v := range raw[i] {
					rec[f] = normaliseWith(mt.cfg.Fields[f].Kind, v, mt.cfg.Region, cache)
					size += len(rec[f].v) + len(rec[f].alt)
				}
				out[i] = rec
			}
			packStrings(slab, size)
		}(lo, hi, caches[w])
	}
	wg.Wait()
}

// packStrings copies the prepared values into one string of size bytes,
// in record order, and points the values at it. Scoring reads pairs of
// records in no particular order and is bound by memory latency: with a
// record's values side by side (and the records' fields in one slab), a
// comparison touches a few cache lines instead of one per value, and the
// collector has one object to trace instead of several per record.
func packStrings(vals []normalised, size int) {
	var b strings.Builder
	b.Grow(size)
	for _, n := range vals {
		b.WriteString(n.v)
		b.WriteString(n.alt)
	}
	arena := b.String()
	off := 0
	for i := range vals {
		n := &vals[i]
		if l := len(n.v); l > 0 {
			n.v = arena[off : off+l]
			off += l
		}
		if l := len(n.alt); l > 0 {
			n.alt = arena[off : off+l]
			off += l
		}
	}
}

// edge is a matched pair.
type edge struct {
	i, j int32
	w    float32
}

// scoreBlocks scores every candidate pair on several goroutines and
// returns the matched pairs and the number of pairs scored.
func (mt *Matcher) scoreBlocks(recs [][]normalised, bl *blocks, tf termFrequencies, threshold float64, o ClusterOptions, report func(string, int, int)) ([]edge, int) {
	var next, done atomic.Int64
	var mu sync.Mutex
	var all []edge
	total := 0
	var wg sync.WaitGroup
	progress := make(chan int, o.Workers)
	for range o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []edge
			count := 0
			for {
				g := int(next.Add(256)) - 256
				if g >= len(bl.groups) {
					break
				}
				for _, grp := range bl.groups[g:min(g+256, len(bl.groups))] {
					bl.pairs(grp, func(i, j int32) {
						count++
						if s, ok := mt.scoreAtLeast(recs[i], recs[j], tf, threshold); ok {
							local = append(local, edge{i: i, j: j, w: float32(s)})
						}
					})
				}
				select {
				case progress <- int(done.Add(256)):
				default:
				}
			}
			mu.Lock()
			all = append(all, local...)
			total += count
			mu.Unlock()
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	for {
		select {
		case d := <-progress:
			report("score", min(d, len(bl.groups)), len(bl.groups))
			continue
		case <-finished:
		}
		break
	}
	report("score", len(bl.groups), len(bl.groups))
	return all, total
}

// linker joins matched pairs into clusters, strongest first. A link is
// refused when the cluster would outgrow the cap, or when the two clusters
// it would join do not cohere: every record of one is compared with every
// record of the other, and their mean score must reach the coherence
// floor. A chain of links, each strong alone, thus cannot join records
// that disagree with each other; each pair of records is compared at most
// once on an accepted join, so coherence costs the sum of the squared
// cluster sizes.
type linker struct {
	mt        *Matcher
	recs      [][]normalised
	tf        termFrequencies
	maxSize   int
	coherence float64
	parent    []int32
	members   [][]int32
	// refusedAt remembers joins refused for incoherence, by the two
	// clusters' roots and sizes, so a refusal is not computed again until
	// one of the clusters grows.
	refusedAt map[[2]int32][2]int32
}

func (mt *Matcher) linkClusters(recs [][]normalised, tf termFrequencies, edges []edge, maxSize int, coherence float64) ([]int32, int) {
	slices.SortFunc(edges, func(a, b edge) int {
		switch {
		case a.w > b.w:
			return -1
		case a.w < b.w:
			return 1
		case a.i != b.i:
			return int(a.i - b.i)
		}
		return int(a.j - b.j)
	})
	n := len(recs)
	lk := &linker{mt: mt, recs: recs, tf: tf, maxSize: maxSize, coherence: coherence,
		parent: make([]int32, n), members: make([][]int32, n), refusedAt: map[[2]int32][2]int32{}}
	for i := range lk.parent {
		lk.parent[i] = int32(i)
	}
	refused := 0
	for _, e := range edges {
		a, b := lk.find(e.i), lk.find(e.j)
		if a == b {
			continue
		}
		if !lk.join(a, b) {
			refused++
		}
	}
	rep := make([]int32, n)
	for i := range rep {
		rep[i] = lk.find(int32(i))
	}
	return rep, refused
}

func (lk *linker) find(x int32) int32 {
	for lk.parent[x] != x {
		lk.parent[x] = lk.parent[lk.parent[x]]
		x = lk.parent[x]
	}
	return x
}

// cluster returns the records of the cluster rooted at r.
func (lk *linker) cluster(r int32) []int32 {
	if lk.members[r] == nil {
		return []int32{r}
	}
	return lk.members[r]
}

// join joins the clusters rooted at a and b when allowed and reports
// whether it did. The smaller root stays the root.
func (lk *linker) join(a, b int32) bool {
	if b < a {
		a, b = b, a
	}
	ma, mb := lk.cluster(a), lk.cluster(b)
	if len(ma)+len(mb) > lk.maxSize {
		return false
	}
	if len(ma) > 1 || len(mb) > 1 {
		key, sizes := [2]int32{a, b}, [2]int32{int32(len(ma)), int32(len(mb))}
		if at, ok := lk.refusedAt[key]; ok && at == sizes {
			return false
		}
		sum := 0.0
		for _, x := range ma {
			for _, y := range mb {
				sum += lk.mt.score(lk.recs[x], lk.recs[y], lk.tf)
			}
		}
		if sum/float64(len(ma)*len(mb)) < lk.coherence {
			lk.refusedAt[key] = sizes
			return false
		}
	}
	lk.parent[b] = a
	lk.members[a] = append(append(make([]int32, 0, len(ma)+len(mb)), ma...), mb...)
	lk.members[b] = nil
	return true
}
