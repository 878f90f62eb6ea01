package lead

import "math"

// nbModel is a naive-Bayes frequency model: the log prior odds plus, for
// every column and code, log P(code | won) - log P(code | lost) with Laplace
// smoothing.
type nbModel struct {
	Prior float64     `json:"prior"`
	LLR   [][]float64 `json:"llr"`
}

func trainNB(e *encoded, cols []column, alpha float64) *nbModel {
	m := &nbModel{LLR: make([][]float64, len(cols))}
	var won, lost float64
	for _, y := range e.labels {
		if y {
			won++
		} else {
			lost++
		}
	}
	m.Prior = math.Log(won / lost)
	for k := range cols {
		n := cols[k].codes()
		cw, cl := make([]float64, n), make([]float64, n)
		for i := 0; i < e.n; i++ {
			code := e.codes[i*e.cols+k]
			if e.labels[i] {
				cw[code]++
			} else {
				cl[code]++
			}
		}
		llr := make([]float64, n)
		for c := range n {
			pw := (cw[c] + alpha) / (won + alpha*float64(n))
			pl := (cl[c] + alpha) / (lost + alpha*float64(n))
			llr[c] = math.Log(pw / pl)
		}
		m.LLR[k] = llr
	}
	return m
}

func (m *nbModel) logit(codes []uint16, contrib []float64) float64 {
	s := m.Prior
	for k, c := range codes {
		w := m.LLR[k][c]
		s += w
		if contrib != nil {
			contrib[k] = w
		}
	}
	return s
}

func (m *nbModel) validate(cols []column, add func(string, string, ...any)) {
	if len(m.LLR) != len(cols) {
		add("naive_bayes.llr", "has %d columns, want %d", len(m.LLR), len(cols))
		return
	}
	for k := range cols {
		if len(m.LLR[k]) != cols[k].codes() {
			add(idx("naive_bayes.llr", k), "has %d codes, want %d", len(m.LLR[k]), cols[k].codes())
		}
	}
}
