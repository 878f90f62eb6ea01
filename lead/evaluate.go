package lead

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/crmkit/crmkit/crm"
)

// ROCAUC returns the area under the ROC curve of scores against labels: the
// probability that a random won lead scores above a random lost one, ties
// counting half. It is computed from ranks (average ranks for ties), in
// O(n log n). Both outcomes must occur.
func ROCAUC(scores []float64, labels []bool) (float64, error) {
	if len(scores) != len(labels) {
		return 0, fmt.Errorf("lead: roc auc: %w", crm.Invalid("labels", "has %d values for %d scores", len(labels), len(scores)))
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(scores[a], scores[b]) })
	var pos, rankSum float64
	for i := 0; i < len(order); {
		j := i
		for j < len(order) && scores[order[j]] == scores[order[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j, averaged over the tie
		for _, o := range order[i:j] {
			if labels[o] {
				pos++
				rankSum += avg
			}
		}
		i = j
	}
	neg := float64(len(scores)) - pos
	if pos == 0 || neg == 0 {
		return 0, fmt.Errorf("lead: roc auc: %w", crm.Invalid("labels", "need both outcomes, got %v won of %d", pos, len(scores)))
	}
	return (rankSum - pos*(pos+1)/2) / (pos * neg), nil
}

// CVResult is a cross-validation's ROC AUC per fold and their mean.
type CVResult struct {
	Folds []float64 `json:"folds"`
	Mean  float64   `json:"mean"`
}

// CrossValidate estimates how well [Train] with cfg generalises: stratified
// cfg.Folds-fold cross-validation (folds drawn with cfg.Seed), training on
// all folds but one and measuring ROC AUC on the one left out.
func CrossValidate(t *Table, cfg *TrainConfig) (CVResult, error) {
	c := cfg.withDefaults()
	if err := c.validate(t); err != nil {
		return CVResult{}, fmt.Errorf("lead: cross-validate: %w", err)
	}
	labels, err := labelsOf(t, c.Label)
	if err != nil {
		return CVResult{}, fmt.Errorf("lead: cross-validate: %w", err)
	}
	if c.Algorithm == Auto {
		// Choosing inside each fold keeps the estimate honest.
		res, err := crossValidateWith(t, &c, labels, func(train []int) *Predictor {
			sub := &Table{Columns: t.Columns, Rows: pick(t.Rows, train)}
			p, err := Train(sub, &c)
			if err != nil {
				return nil
			}
			return p
		})
		if err != nil {
			return CVResult{}, fmt.Errorf("lead: cross-validate: %w", err)
		}
		return res, nil
	}
	res, err := crossValidate(t, &c, labels)
	if err != nil {
		return CVResult{}, fmt.Errorf("lead: cross-validate: %w", err)
	}
	return res, nil
}

func pick[T any](all []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = all[j]
	}
	return out
}

func crossValidate(t *Table, c *TrainConfig, labels []bool) (CVResult, error) {
	res, err := crossValidateWith(t, c, labels, func(rows []int) *Predictor { return train(t, c, rows, labels) })
	if err != nil && len(res.Folds) == 0 {
		return res, err
	}
	return res, err
}

func crossValidateWith(t *Table, c *TrainConfig, labels []bool, fit func(rows []int) *Predictor) (CVResult, error) {
	folds := stratifiedFolds(labels, c.Folds, c.Seed)
	res := CVResult{}
	for f := range c.Folds {
		var trainRows, testRows []int
		for i, fi := range folds {
			if fi == f {
				testRows = append(testRows, i)
			} else {
				trainRows = append(trainRows, i)
			}
		}
		p := fit(trainRows)
		if p == nil {
			return CVResult{}, crm.Invalid("folds", "fold %d could not be trained", f)
		}
		s := p.Bind(t.Columns)
		scores := make([]float64, len(testRows))
		ys := make([]bool, len(testRows))
		for i, r := range testRows {
			scores[i] = s.Score(t.Rows[r])
			ys[i] = labels[r]
		}
		auc, err := ROCAUC(scores, ys)
		if err != nil {
			return CVResult{}, crm.Invalid("folds", "fold %d: %v", f, err)
		}
		res.Folds = append(res.Folds, auc)
		res.Mean += auc / float64(c.Folds)
	}
	return res, nil
}

// stratifiedFolds assigns every row a fold so that each fold holds the same
// share of won leads.
func stratifiedFolds(labels []bool, k int, seed int64) []int {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	var pos, neg []int
	for i, y := range labels {
		if y {
			pos = append(pos, i)
		} else {
			neg = append(neg, i)
		}
	}
	out := make([]int, len(labels))
	n := 0
	for _, group := range [][]int{pos, neg} {
		rng.Shuffle(len(group), func(i, j int) { group[i], group[j] = group[j], group[i] })
		for _, i := range group {
			out[i] = n % k
			n++
		}
	}
	return out
}
