package lead

import "math"

// lrModel is a logistic regression: a bias, a weight per column code (one-hot
// categories and numeric bins, missing included) and a weight per scaled
// numeric value.
type lrModel struct {
	Bias   float64     `json:"bias"`
	Codes  [][]float64 `json:"codes"`
	Scaled []float64   `json:"scaled"`
}

// trainLR minimises mean log-loss + l2/2 * |w|^2 with full-batch Adam from a
// fixed start, so training is deterministic.
func trainLR(e *encoded, cols []column, l2 float64, iters int) *lrModel {
	off := make([]int, len(cols)+1)
	for k := range cols {
		off[k+1] = off[k] + cols[k].codes()
	}
	nw := off[len(cols)] + len(cols) + 1 // codes, scaled values, bias
	scaled0 := off[len(cols)]
	biasAt := nw - 1
	w := make([]float64, nw)
	var pos float64
	for _, y := range e.labels {
		if y {
			pos++
		}
	}
	w[biasAt] = math.Log(pos / (float64(e.n) - pos))
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
	for range iters {
		clear(grad)
		for i := 0; i < e.n; i++ {
			codes, nums := e.row(i)
			z := w[biasAt]
			for k, c := range codes {
				z += w[off[k]+int(c)] + w[scaled0+k]*nums[k]
			}
			g := sigmoid(z)
			if e.labels[i] {
				g--
			}
			grad[biasAt] += g
			for k, c := range codes {
				grad[off[k]+int(c)] += g
				grad[scaled0+k] += g * nums[k]
			}
		}
		b1t *= beta1
		b2t *= beta2
		for j := range w {
			gj := grad[j] * inv
			if j != biasAt {
				gj += l2 * w[j]
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
	return m
}

func (m *lrModel) logit(codes []uint16, nums []float64, contrib []float64) float64 {
	s := m.Bias
	for k, c := range codes {
		w := m.Codes[k][c] + m.Scaled[k]*nums[k]
		s += w
		if contrib != nil {
			contrib[k] = w
		}
	}
	return s
}

func (m *lrModel) validate(cols []column, add func(string, string, ...any)) {
	if len(m.Codes) != len(cols) || len(m.Scaled) != len(cols) {
		add("logistic_regression", "has weights for %d columns, want %d", len(m.Codes), len(cols))
		return
	}
	for k := range cols {
		if len(m.Codes[k]) != cols[k].codes() {
			add(idx("logistic_regression.codes", k), "has %d codes, want %d", len(m.Codes[k]), cols[k].codes())
		}
	}
}
