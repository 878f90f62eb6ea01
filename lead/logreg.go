package lead

import (
	"cmp"
	"math"
	"slices"
)

// lrModel is a logistic regression: a bias, a weight per column code (one-hot
// categories and numeric bins, missing included), a weight per scaled
// numeric value and, for some pairs of columns, a weight per combination of
// their codes.
type lrModel struct {
	Bias   float64     `json:"bias"`
	Codes  [][]float64 `json:"codes"`
	Scaled []float64   `json:"scaled"`
	Pairs  []lrPair    `json:"pairs,omitempty"`
}

// lrPair holds the interaction weights of columns A < B: the weight of code
// a of column A with code b of column B is W[a*codes(B)+b].
type lrPair struct {
	A int       `json:"a"`
	B int       `json:"b"`
	W []float64 `json:"w"`
}

// Bounds on the interaction weights, so that a wide table keeps training
// time and model size in check: a pair of columns with more code
// combinations than maxPairCodes is left out, and pairs stop being added
// once they hold maxPairWeights weights.
const (
	maxPairCodes   = 4096
	maxPairWeights = 1 << 17
)

// lrPairs chooses the column pairs that get interaction weights: pairs of
// the columns that carry the most information about the outcome in the
// training rows come first (column i ranked above column j pairs with every
// column ranked above it before j does), at most limit pairs within the
// size bounds. The result is sorted by A, then B.
func lrPairs(e *encoded, cols []column, limit int) [][2]int {
	if limit <= 0 || len(cols) < 2 {
		return nil
	}
	info := make([]float64, len(cols))
	for k := range cols {
		info[k] = mutualInformation(e, k, cols[k].codes())
	}
	rank := make([]int, len(cols))
	for i := range rank {
		rank[i] = i
	}
	slices.SortStableFunc(rank, func(a, b int) int { return cmp.Compare(info[b], info[a]) })
	var out [][2]int
	weights := 0
	for j := 1; j < len(rank) && len(out) < limit; j++ {
		for i := 0; i < j && len(out) < limit; i++ {
			a, b := min(rank[i], rank[j]), max(rank[i], rank[j])
			n := cols[a].codes() * cols[b].codes()
			if n > maxPairCodes || weights+n > maxPairWeights {
				continue
			}
			weights += n
			out = append(out, [2]int{a, b})
		}
	}
	slices.SortFunc(out, func(x, y [2]int) int {
		if d := cmp.Compare(x[0], y[0]); d != 0 {
			return d
		}
		return cmp.Compare(x[1], y[1])
	})
	return out
}

// mutualInformation returns the mutual information, in nats, between the
// codes of column k and the label.
func mutualInformation(e *encoded, k, codes int) float64 {
	won, all := make([]float64, codes), make([]float64, codes)
	var pos float64
	for i := 0; i < e.n; i++ {
		c := e.codes[i*e.cols+k]
		all[c]++
		if e.labels[i] {
			won[c]++
			pos++
		}
	}
	n := float64(e.n)
	var mi float64
	for c := range codes {
		for _, cell := range [2][2]float64{{won[c], pos}, {all[c] - won[c], n - pos}} {
			if cell[0] > 0 {
				mi += cell[0] / n * math.Log(cell[0]*n/(all[c]*cell[1]))
			}
		}
	}
	return mi
}

// lrTrainConfig shapes trainLR.
type lrTrainConfig struct {
	l2, pairL2 float64
	iters      int
	pairs      int // most column pairs with interaction weights
}

// trainLR minimises mean log-loss + l2/2 * |w|^2 (pairL2 for interaction
// weights) with full-batch Adam from a fixed start, so training is
// deterministic.
func trainLR(e *encoded, cols []column, c lrTrainConfig) *lrModel {
	off := make([]int, len(cols)+1)
	for k := range cols {
		off[k+1] = off[k] + cols[k].codes()
	}
	scaled0 := off[len(cols)]
	pairs := lrPairs(e, cols, c.pairs)
	pairOff := make([]int, len(pairs)+1)
	pairOff[0] = scaled0 + len(cols)
	for p, ab := range pairs {
		pairOff[p+1] = pairOff[p] + cols[ab[0]].codes()*cols[ab[1]].codes()
	}
	nw := pairOff[len(pairs)] + 1 // codes, scaled values, pairs, bias
	biasAt := nw - 1
	w := make([]float64, nw)
	var pos float64
	for _, y := range e.labels {
		if y {
			pos++
		}
	}
	w[biasAt] = math.Log(pos / (float64(e.n) - pos))
	// Every row's code and interaction weight indexes, computed once: the
	// gradient steps then read one flat list per row.
	width := len(cols) + len(pairs)
	at := make([]int32, e.n*width)
	for i := 0; i < e.n; i++ {
		codes, _ := e.row(i)
		row := at[i*width : (i+1)*width]
		for k, c := range codes {
			row[k] = int32(off[k] + int(c))
		}
		for p, ab := range pairs {
			row[len(cols)+p] = int32(pairOff[p] + int(codes[ab[0]])*cols[ab[1]].codes() + int(codes[ab[1]]))
		}
	}
	grad := make([]float64, nw)
	mom, vel := make([]float64, nw), make([]float64, nw)
	const (
		rate  = 0.05
		beta1 = 0.9
		beta2 = 0.999
		eps   = 1e-8
	)
	b1t, b2t := 1.0, 1.0
	inv := 1 / float64(e.n)
	scaledW, scaledG := w[scaled0:scaled0+len(cols)], grad[scaled0:scaled0+len(cols)]
	for range c.iters {
		clear(grad)
		for i := 0; i < e.n; i++ {
			row := at[i*width : (i+1)*width]
			nums := e.nums[i*e.cols : (i+1)*e.cols]
			z := w[biasAt]
			for _, j := range row {
				z += w[j]
			}
			for k, x := range nums {
				z += scaledW[k] * x
			}
			g := sigmoid(z)
			if e.labels[i] {
				g--
			}
			grad[biasAt] += g
			for _, j := range row {
				grad[j] += g
			}
			for k, x := range nums {
				scaledG[k] += g * x
			}
		}
		b1t *= beta1
		b2t *= beta2
		for j := range w {
			gj := grad[j] * inv
			switch {
			case j == biasAt:
			case j >= pairOff[0]:
				gj += c.pairL2 * w[j]
			default:
				gj += c.l2 * w[j]
			}
			mom[j] = beta1*mom[j] + (1-beta1)*gj
			vel[j] = beta2*vel[j] + (1-beta2)*gj*gj
			w[j] -= rate * (mom[j] / (1 - b1t)) / (math.Sqrt(vel[j]/(1-b2t)) + eps)
		}
	}
	m := &lrModel{Bias: w[biasAt], Codes: make([][]float64, len(cols)), Scaled: make([]float64, len(cols))}
	for k := range cols {
		m.Codes[k] = w[off[k]:off[k+1]:off[k+1]]
		if cols[k].Type == ColumnNumeric {
			m.Scaled[k] = w[scaled0+k]
		}
	}
	for p, ab := range pairs {
		m.Pairs = append(m.Pairs, lrPair{A: ab[0], B: ab[1], W: w[pairOff[p]:pairOff[p+1]:pairOff[p+1]]})
	}
	return m
}

// logit returns the log-odds of a row; contrib, when not nil, receives
// every column's share (an interaction weight split evenly between its two
// columns).
func (m *lrModel) logit(codes []uint16, nums []float64, contrib []float64) float64 {
	s := m.Bias
	for k, c := range codes {
		w := m.Codes[k][c] + m.Scaled[k]*nums[k]
		s += w
		if contrib != nil {
			contrib[k] = w
		}
	}
	for i := range m.Pairs {
		p := &m.Pairs[i]
		// validate checked that W holds codes(A)*codes(B) weights and
		// Codes[B] codes(B).
		w := p.W[int(codes[p.A])*len(m.Codes[p.B])+int(codes[p.B])]
		s += w
		if contrib != nil {
			contrib[p.A] += w / 2
			contrib[p.B] += w / 2
		}
	}
	return s
}

func (m *lrModel) validate(cols []column, add func(string, string, ...any)) {
	if len(m.Codes) != len(cols) || len(m.Scaled) != len(cols) {
		add("logistic_regression", "has weights for %d columns, want %d", len(m.Codes), len(cols))
		return
	}
	ok := true
	for k := range cols {
		if len(m.Codes[k]) != cols[k].codes() {
			add(idx("logistic_regression.codes", k), "has %d codes, want %d", len(m.Codes[k]), cols[k].codes())
			ok = false
		}
	}
	if !ok {
		return
	}
	for i, p := range m.Pairs {
		path := idx("logistic_regression.pairs", i)
		if p.A < 0 || p.B >= len(cols) || p.A >= p.B {
			add(path, "columns %d and %d: want 0 <= a < b < %d", p.A, p.B, len(cols))
			continue
		}
		if want := cols[p.A].codes() * cols[p.B].codes(); len(p.W) != want {
			add(path+".w", "has %d weights, want %d", len(p.W), want)
		}
	}
}
