package lead

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// gbtModel is gradient-boosted regression trees on log-odds. Trees split
// on ordinals: a numeric column's codes in value order (missing first), a
// categorical column's codes sorted by their smoothed conversion rate in
// training, which makes a threshold split the best two-way partition of the
// categories for a binary outcome.
type gbtModel struct {
	Base  float64    `json:"base"`
	Order [][]uint16 `json:"order"` // per column: code -> ordinal
	Roots []int32    `json:"roots"`
	Nodes []gbtNode  `json:"nodes"`
}

// gbtNode is a leaf when Col < 0. Value is the node's log-odds step (inner
// nodes keep theirs to attribute a prediction to the splits on its path).
type gbtNode struct {
	Col   int     `json:"c"`
	Split uint16  `json:"s"` // go left when ordinal <= Split
	Left  int32   `json:"l,omitempty"`
	Right int32   `json:"r,omitempty"`
	Value float64 `json:"v"`
}

const (
	gbtLambda      = 1.0 // L2 on leaf values
	gbtMinHessian  = 2.0 // least hessian weight in a child
	gbtSubsample   = 0.8
	gbtMinGain     = 1e-6
	gbtMaxOrdinals = math.MaxUint16
)

func trainGBT(e *encoded, cols []column, c *TrainConfig) *gbtModel {
	m := &gbtModel{Order: make([][]uint16, len(cols))}
	var pos float64
	for _, y := range e.labels {
		if y {
			pos++
		}
	}
	rate := pos / float64(e.n)
	m.Base = math.Log(rate / (1 - rate))
	nOrd := make([]int, len(cols))
	for k := range cols {
		n := cols[k].codes()
		nOrd[k] = n
		order := make([]uint16, n)
		if cols[k].Type == ColumnNumeric {
			for code := range n {
				order[code] = uint16(code)
			}
		} else {
			won, all := make([]float64, n), make([]float64, n)
			for i := 0; i < e.n; i++ {
				code := e.codes[i*e.cols+k]
				all[code]++
				if e.labels[i] {
					won[code]++
				}
			}
			codes := make([]int, n)
			for i := range codes {
				codes[i] = i
			}
			score := func(code int) float64 { return (won[code] + rate*10) / (all[code] + 10) }
			slices.SortStableFunc(codes, func(a, b int) int { return cmp.Compare(score(a), score(b)) })
			for o, code := range codes {
				order[code] = uint16(o)
			}
		}
		m.Order[k] = order
	}
	ord := make([]uint16, len(e.codes))
	for i := 0; i < e.n; i++ {
		for k := 0; k < e.cols; k++ {
			ord[i*e.cols+k] = m.Order[k][e.codes[i*e.cols+k]]
		}
	}
	f := make([]float64, e.n)
	for i := range f {
		f[i] = m.Base
	}
	g, h := make([]float64, e.n), make([]float64, e.n)
	rng := rand.New(rand.NewPCG(uint64(c.Seed), 0xda3e39cb94b95bdb))
	all := make([]int32, e.n)
	for i := range all {
		all[i] = int32(i)
	}
	off := make([]int, len(cols)+1)
	for k := range cols {
		off[k+1] = off[k] + nOrd[k]
	}
	b := gbtBuilder{e: e, ord: ord, nOrd: nOrd, off: off, g: g, h: h, m: m, depth: c.Depth, rate: c.LearningRate}
	for range c.Trees {
		for i := range f {
			p := sigmoid(f[i])
			g[i] = p
			if e.labels[i] {
				g[i] = p - 1
			}
			h[i] = max(p*(1-p), 1e-6)
		}
		rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		sample := slices.Clone(all[:int(float64(e.n)*gbtSubsample)])
		root := b.grow(sample, b.histOf(sample), 0)
		m.Roots = append(m.Roots, root)
		for i := range f {
			f[i] += m.leaf(root, ord[i*e.cols:(i+1)*e.cols])
		}
	}
	return m
}

type gbtBuilder struct {
	e     *encoded
	ord   []uint16
	nOrd  []int
	off   []int // column k's histogram starts at off[k]
	g, h  []float64
	m     *gbtModel
	depth int
	rate  float64
}

// hist is one node's gradient and hessian sums per column ordinal.
type hist struct{ g, h []float64 }

func (b *gbtBuilder) histOf(rows []int32) hist {
	n := b.off[len(b.off)-1]
	hs := hist{g: make([]float64, n), h: make([]float64, n)}
	cols := b.e.cols
	for _, r := range rows {
		g, h := b.g[r], b.h[r]
		row := b.ord[int(r)*cols : int(r)*cols+cols]
		for k, o := range row {
			j := b.off[k] + int(o)
			hs.g[j] += g
			hs.h[j] += h
		}
	}
	return hs
}

// grow builds the subtree of rows, whose histogram is hs, and returns its
// root. The larger child's histogram is the parent's minus the smaller's,
// which halves the scanning.
func (b *gbtBuilder) grow(rows []int32, hs hist, depth int) int32 {
	var G, H float64
	for j := b.off[0]; j < b.off[1]; j++ {
		G += hs.g[j]
		H += hs.h[j]
	}
	at := int32(len(b.m.Nodes))
	b.m.Nodes = append(b.m.Nodes, gbtNode{Col: -1, Value: -G / (H + gbtLambda) * b.rate})
	if depth >= b.depth || H < 2*gbtMinHessian {
		return at
	}
	bestGain, bestCol, bestSplit := gbtMinGain, -1, 0
	parent := G * G / (H + gbtLambda)
	for k := 0; k < b.e.cols; k++ {
		hg, hh := hs.g[b.off[k]:b.off[k+1]], hs.h[b.off[k]:b.off[k+1]]
		var gl, hl float64
		for o := 0; o < len(hg)-1; o++ {
			gl += hg[o]
			hl += hh[o]
			hr := H - hl
			if hl < gbtMinHessian || hr < gbtMinHessian {
				continue
			}
			gr := G - gl
			gain := gl*gl/(hl+gbtLambda) + gr*gr/(hr+gbtLambda) - parent
			if gain > bestGain {
				bestGain, bestCol, bestSplit = gain, k, o
			}
		}
	}
	if bestCol < 0 {
		return at
	}
	cols := b.e.cols
	var left, right []int32
	for _, r := range rows {
		if int(b.ord[int(r)*cols+bestCol]) <= bestSplit {
			left = append(left, r)
		} else {
			right = append(right, r)
		}
	}
	var lh, rh hist
	if depth+1 < b.depth {
		small, big := &lh, &rh
		smallRows := left
		if len(right) < len(left) {
			small, big, smallRows = &rh, &lh, right
		}
		*small = b.histOf(smallRows)
		*big = hist{g: hs.g, h: hs.h} // reuse the parent's storage
		for j := range big.g {
			big.g[j] -= small.g[j]
			big.h[j] -= small.h[j]
		}
	} else {
		// Children at the last level are leaves: only their sums matter.
		lh, rh = b.sums(left), b.sums(right)
	}
	l := b.grow(left, lh, depth+1)
	rr := b.grow(right, rh, depth+1)
	n := &b.m.Nodes[at]
	n.Col, n.Split, n.Left, n.Right = bestCol, uint16(bestSplit), l, rr
	return at
}

// sums returns a histogram holding only the totals of rows, in column 0.
func (b *gbtBuilder) sums(rows []int32) hist {
	hs := hist{g: make([]float64, b.off[1]), h: make([]float64, b.off[1])}
	for _, r := range rows {
		hs.g[0] += b.g[r]
		hs.h[0] += b.h[r]
	}
	return hs
}

// leaf returns the tree's log-odds step for a row of ordinals.
func (m *gbtModel) leaf(root int32, ord []uint16) float64 {
	n := &m.Nodes[root]
	for n.Col >= 0 {
		if ord[n.Col] <= n.Split {
			n = &m.Nodes[n.Left]
		} else {
			n = &m.Nodes[n.Right]
		}
	}
	return n.Value
}

func (m *gbtModel) logit(codes []uint16, contrib []float64) float64 {
	var buf [64]uint16
	ord := buf[:0]
	if len(codes) > len(buf) {
		ord = make([]uint16, 0, len(codes))
	}
	for k, c := range codes {
		ord = append(ord, m.Order[k][c])
	}
	s := m.Base
	for _, root := range m.Roots {
		if contrib == nil {
			s += m.leaf(root, ord)
			continue
		}
		// Attribute each step along the path to the column split on.
		n := &m.Nodes[root]
		s += n.Value
		for n.Col >= 0 {
			next := &m.Nodes[n.Right]
			if ord[n.Col] <= n.Split {
				next = &m.Nodes[n.Left]
			}
			contrib[n.Col] += next.Value - n.Value
			s += next.Value - n.Value
			n = next
		}
	}
	return s
}

func (m *gbtModel) validate(cols []column, add func(string, string, ...any)) {
	if len(m.Order) != len(cols) {
		add("boosted_trees.order", "has %d columns, want %d", len(m.Order), len(cols))
		return
	}
	for k := range cols {
		if len(m.Order[k]) != cols[k].codes() {
			add(idx("boosted_trees.order", k), "has %d codes, want %d", len(m.Order[k]), cols[k].codes())
		}
	}
	// Children must point forward so that every path ends at a leaf.
	for i, n := range m.Nodes {
		if n.Col < 0 {
			continue
		}
		if n.Col >= len(cols) {
			add(idx("boosted_trees.nodes", i)+".c", "no column %d", n.Col)
		}
		if int(n.Left) <= i || int(n.Right) <= i || int(n.Left) >= len(m.Nodes) || int(n.Right) >= len(m.Nodes) {
			add(idx("boosted_trees.nodes", i), "children must follow the node")
		}
	}
	for i, r := range m.Roots {
		if r < 0 || int(r) >= len(m.Nodes) {
			add(idx("boosted_trees.roots", i), "no node %d", r)
		}
	}
}
