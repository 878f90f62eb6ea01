package lead

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// Table is tabular training or scoring data: a header and rows of string
// cells, as read from a CSV export. Every row has one cell per column.
type Table struct {
	Columns []string
	Rows    [][]string
}

// ColumnType says how a predictive model reads a column.
type ColumnType string

// Column types. A numeric column is binned and scaled; a categorical column
// is one level per distinct (case-folded) value.
const (
	ColumnNumeric     ColumnType = "numeric"
	ColumnCategorical ColumnType = "categorical"
)

// Algorithm names a predictive model.
type Algorithm string

// The predictive algorithms.
const (
	// NaiveBayes is a frequency model with Laplace smoothing: fast, robust
	// on small data, and easy to explain.
	NaiveBayes Algorithm = "nb"
	// LogisticRegression is an L2-regularised logistic regression over
	// one-hot categories and binned and scaled numbers, with a weight per
	// combination of two columns' values for pairs of the most informative
	// columns (see [TrainConfig].Interactions).
	LogisticRegression Algorithm = "logreg"
	// BoostedTrees is gradient-boosted decision trees over the same bins.
	BoostedTrees Algorithm = "gbt"
	// Ensemble averages the log-odds of logistic regression and boosted
	// trees.
	Ensemble Algorithm = "ensemble"
	// Auto picks the candidate with the best cross-validated ROC AUC on the
	// training data.
	Auto Algorithm = "auto"
)

// DefaultMissing lists the cell values read as "not answered" (compared
// after trimming, ignoring case): the empty string and common export
// placeholders such as "Select".
func DefaultMissing() []string {
	return []string{"", "select", "na", "n/a", "nan", "null", "none", "-", "?", "unknown", "not provided"}
}

// TrainConfig configures [Train]. The zero value trains the default model.
type TrainConfig struct {
	// Label is the outcome column: 1/0, true/false or yes/no (any case).
	// Required.
	Label string
	// Exclude lists columns not to learn from, such as IDs and columns
	// filled in after the outcome was known. Defaults to none.
	Exclude []string
	// Types declares column types; undeclared columns are numeric when every
	// answered cell is a number, else categorical. Defaults to inferring all.
	Types map[string]ColumnType
	// Missing lists placeholder values read as "not answered". Defaults to
	// [DefaultMissing].
	Missing []string
	// Algorithm is the model to train. Defaults to [Ensemble], the best of
	// the fixed candidates in cross-validation on the shared leads data.
	Algorithm Algorithm
	// Seed makes cross-validation folds and tree subsampling reproducible.
	// Defaults to 1.
	Seed int64
	// Folds is the number of cross-validation folds [Auto] uses. Defaults
	// to 5.
	Folds int
	// Bins is the number of quantile bins per numeric column (fewer when a
	// column has fewer distinct values). Defaults to one bin per 80
	// answered training values of the column, at least 10 and at most 64:
	// on thousands of leads fine bins let the models follow a number such
	// as time on site closely, while a small table keeps enough rows in
	// each bin.
	Bins int
	// MinCount folds categorical values seen fewer times into "other".
	// Defaults to 2.
	MinCount int
	// MaxLevels keeps at most this many values per categorical column, the
	// most frequent. Defaults to 100.
	MaxLevels int
	// Smoothing is naive Bayes' Laplace smoothing. Defaults to 1.
	Smoothing float64
	// L2 is logistic regression's penalty per unit of mean log-loss.
	// Defaults to 0.001.
	L2 float64
	// Iterations bounds logistic regression's gradient steps. Defaults to
	// 100.
	Iterations int
	// Interactions is the most column pairs logistic regression learns a
	// weight per combination of values for, pairs of the columns most
	// informative about the outcome in the training rows first; pairs whose
	// columns have more than 4,096 value combinations are left out, and
	// pairs stop once they hold 131,072 weights. A negative number learns
	// none. Defaults to 105, every pair of 15 columns.
	Interactions int
	// PairL2 is logistic regression's penalty on interaction weights per
	// unit of mean log-loss: stronger than L2, since a combination of two
	// values is seen in fewer rows than either value. Defaults to 0.01.
	PairL2 float64
	// Trees, Depth and LearningRate shape [BoostedTrees]. Default to 100, 4
	// and 0.1.
	Trees        int
	Depth        int
	LearningRate float64
}

func (c *TrainConfig) withDefaults() TrainConfig {
	out := TrainConfig{}
	if c != nil {
		out = *c
	}
	if out.Missing == nil {
		out.Missing = DefaultMissing()
	}
	if out.Algorithm == "" {
		out.Algorithm = Ensemble
	}
	if out.Seed == 0 {
		out.Seed = 1
	}
	if out.Folds == 0 {
		out.Folds = 5
	}
	if out.MinCount == 0 {
		out.MinCount = 2
	}
	if out.MaxLevels == 0 {
		out.MaxLevels = 100
	}
	if out.Smoothing == 0 {
		out.Smoothing = 1
	}
	if out.L2 == 0 {
		out.L2 = 0.001
	}
	if out.Iterations == 0 {
		out.Iterations = 100
	}
	if out.Interactions == 0 {
		out.Interactions = 105
	}
	if out.PairL2 == 0 {
		out.PairL2 = 0.01
	}
	if out.Trees == 0 {
		out.Trees = 100
	}
	if out.Depth == 0 {
		out.Depth = 4
	}
	if out.LearningRate == 0 {
		out.LearningRate = 0.1
	}
	return out
}

func (c *TrainConfig) validate(t *Table) error {
	var probs crm.Problems
	add := probs.Add
	switch c.Algorithm {
	case NaiveBayes, LogisticRegression, BoostedTrees, Ensemble, Auto:
	default:
		add("algorithm", "want nb, logreg, gbt, ensemble or auto, got %q", truncate(string(c.Algorithm), 32))
	}
	cols := map[string]bool{}
	for _, col := range t.Columns {
		cols[col] = true
	}
	if c.Label == "" {
		add("label", "is required")
	} else if !cols[c.Label] {
		add("label", "no column %q", truncate(c.Label, 64))
	}
	for i, e := range c.Exclude {
		if !cols[e] {
			add(idx("exclude", i), "no column %q", truncate(e, 64))
		}
	}
	for name, typ := range c.Types {
		if !cols[name] {
			add("types."+name, "no such column")
		}
		if typ != ColumnNumeric && typ != ColumnCategorical {
			add("types."+name, "want numeric or categorical, got %q", truncate(string(typ), 32))
		}
	}
	if c.Folds < 2 {
		add("folds", "must be at least 2")
	}
	if c.Bins < 0 || c.Bins > 250 { // 0: per column, see Bins
		add("bins", "must be between 1 and 250")
	}
	if c.MinCount < 1 {
		add("min_count", "must be at least 1")
	}
	if c.MaxLevels < 1 || c.MaxLevels > 10000 {
		add("max_levels", "must be between 1 and 10000")
	}
	if !(c.Smoothing > 0) || !finite(c.Smoothing) {
		add("smoothing", "must be positive")
	}
	if !(c.L2 > 0) || !finite(c.L2) {
		add("l2", "must be positive")
	}
	if c.Iterations < 1 || c.Iterations > 100000 {
		add("iterations", "must be between 1 and 100000")
	}
	if c.Interactions > 10000 {
		add("interactions", "must be at most 10000")
	}
	if !(c.PairL2 > 0) || !finite(c.PairL2) {
		add("pair_l2", "must be positive")
	}
	if c.Trees < 1 || c.Trees > 10000 {
		add("trees", "must be between 1 and 10000")
	}
	if c.Depth < 1 || c.Depth > 12 {
		add("depth", "must be between 1 and 12")
	}
	if !(c.LearningRate > 0 && c.LearningRate <= 1) {
		add("learning_rate", "must be in (0, 1]")
	}
	if err := probs.Err(); err != nil {
		return err
	}
	return nil
}

func (c *TrainConfig) lrConfig() lrTrainConfig {
	return lrTrainConfig{l2: c.L2, pairL2: c.PairL2, iters: c.Iterations, pairs: max(c.Interactions, 0)}
}

// ParseLabel reads an outcome cell: 1, true or yes is won; 0, false or no
// is lost (any case, spaces trimmed). Anything else is an error.
func ParseLabel(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes":
		return true, nil
	case "0", "false", "no":
		return false, nil
	}
	return false, fmt.Errorf("want 0/1/true/false/yes/no, got %q", truncate(s, 32))
}

// Codes: every column maps a cell to a small integer. 0 is "missing", 1 is
// "other" (a categorical value not kept from training, or an unreadable
// number), 2.. are categorical levels or numeric bins in ascending order.
const (
	codeMissing = 0
	codeOther   = 1
	codeFirst   = 2
)

// column is one feature column of a trained model.
type column struct {
	Name   string     `json:"name"`
	Type   ColumnType `json:"type"`
	Levels []string   `json:"levels,omitempty"` // categorical, code = codeFirst + index
	Cuts   []float64  `json:"cuts,omitempty"`   // numeric bin edges, ascending
	Mean   float64    `json:"mean,omitempty"`   // numeric scaling
	Scale  float64    `json:"scale,omitempty"`

	index map[string]int // level -> code, built on load
}

// codes returns the number of distinct codes of the column.
func (c *column) codes() int {
	if c.Type == ColumnNumeric {
		return codeFirst + len(c.Cuts) + 1
	}
	return codeFirst + len(c.Levels)
}

func (c *column) buildIndex() {
	c.index = make(map[string]int, len(c.Levels))
	for i, l := range c.Levels {
		c.index[l] = codeFirst + i
	}
}

// encode returns the cell's code and, for numeric columns, its scaled value
// (0 when missing).
func (c *column) encode(cell string, missing *missingSet) (int, float64) {
	cell = strings.TrimSpace(cell)
	if missing.has(cell) {
		return codeMissing, 0
	}
	if c.Type == ColumnNumeric {
		f, err := strconv.ParseFloat(cell, 64)
		if err != nil || !finite(f) {
			return codeOther, 0
		}
		// With a finite mean and a positive finite scale z is finite or
		// infinite, never NaN; the clamp keeps a few extreme values from
		// dominating and maps the infinite ones to its ends.
		z := (f - c.Mean) / c.Scale
		switch {
		case z > 5:
			z = 5
		case z < -5:
			z = -5
		case z != z: // NaN: only a hand-edited model gets here
			z = 0
		}
		return codeFirst + sort.SearchFloat64s(c.Cuts, f), z
	}
	var buf [64]byte
	if len(cell) <= len(buf) {
		// string(bytes) in a map index does not allocate.
		if code, ok := c.index[string(appendLower(buf[:0], cell))]; ok {
			return code, 0
		}
		return codeOther, 0
	}
	if code, ok := c.index[strings.ToLower(cell)]; ok {
		return code, 0
	}
	return codeOther, 0
}

// describe names code for explanations.
func (c *column) describe(code int, cell string) string {
	switch code {
	case codeMissing:
		return "(missing)"
	case codeOther:
		if c.Type == ColumnNumeric {
			return "(unreadable)"
		}
		return "(other)"
	}
	return strings.TrimSpace(cell)
}

type missingSet struct{ m map[string]bool }

func newMissingSet(vals []string) *missingSet {
	s := &missingSet{m: make(map[string]bool, len(vals))}
	for _, v := range vals {
		s.m[strings.ToLower(strings.TrimSpace(v))] = true
	}
	return s
}

func (s *missingSet) has(cell string) bool {
	if cell == "" {
		return s.m[""]
	}
	if len(cell) > 32 {
		return false
	}
	var buf [32]byte
	return s.m[string(appendLower(buf[:0], cell))]
}

// appendLower appends s lower-cased; non-ASCII text goes through
// strings.ToLower.
func appendLower(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return append(dst[:0], strings.ToLower(s)...)
		}
		dst = append(dst, lowerASCII(c))
	}
	return dst
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// encoded is a table turned into codes and scaled numbers, row-major.
type encoded struct {
	n, cols int
	codes   []uint16  // n*cols
	nums    []float64 // n*cols; scaled numeric values, 0 for categorical
	labels  []bool
}

func (e *encoded) row(i int) ([]uint16, []float64) {
	return e.codes[i*e.cols : (i+1)*e.cols], e.nums[i*e.cols : (i+1)*e.cols]
}

// fitColumns learns the columns' encodings from the training rows (rows
// indexes into t.Rows).
func fitColumns(t *Table, cfg *TrainConfig, rows []int, missing *missingSet) ([]column, []int) {
	skip := map[string]bool{cfg.Label: true}
	for _, e := range cfg.Exclude {
		skip[e] = true
	}
	var cols []column
	var src []int
	for j, name := range t.Columns {
		if skip[name] {
			continue
		}
		var vals []string
		for _, i := range rows {
			v := strings.TrimSpace(t.Rows[i][j])
			if !missing.has(v) {
				vals = append(vals, v)
			}
		}
		typ, declared := cfg.Types[name]
		nums := make([]float64, 0, len(vals))
		if !declared || typ == ColumnNumeric {
			for _, v := range vals {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !finite(f) {
					nums = nil
					break
				}
				nums = append(nums, f)
			}
			if declared || (nums != nil && len(vals) > 0) {
				typ = ColumnNumeric
			} else {
				typ = ColumnCategorical
			}
		}
		c := column{Name: name, Type: typ}
		if typ == ColumnNumeric {
			c.fitNumeric(nums, binsFor(cfg.Bins, len(nums)))
		} else {
			c.fitCategorical(vals, cfg.MinCount, cfg.MaxLevels)
		}
		if c.codes() <= codeFirst+1 && typ == ColumnCategorical && len(c.Levels) <= 1 && countMissing(t, rows, j, missing) == 0 {
			continue // a constant column carries no information
		}
		c.buildIndex()
		cols = append(cols, c)
		src = append(src, j)
	}
	return cols, src
}

func countMissing(t *Table, rows []int, j int, missing *missingSet) int {
	n := 0
	for _, i := range rows {
		if missing.has(strings.TrimSpace(t.Rows[i][j])) {
			n++
		}
	}
	return n
}

// Default numeric bins: one per binRows answered values, from minBins to
// maxBins.
const (
	binRows = 80
	minBins = 10
	maxBins = 64
)

// binsFor returns the configured number of bins, or the default for a
// column of n answered values.
func binsFor(bins, n int) int {
	if bins > 0 {
		return bins
	}
	return min(max(n/binRows, minBins), maxBins)
}

// fitNumeric learns the mean, standard deviation and quantile cuts of a
// column of finite numbers. The mean and deviation are computed on the
// values divided by the largest magnitude, then scaled back, so a column
// holding numbers near the float64 maximum (1.7e308) neither overflows a
// sum to +Inf nor turns the scaled values into NaN: both stay finite.
func (c *column) fitNumeric(nums []float64, bins int) {
	c.Scale = 1
	if len(nums) == 0 {
		return
	}
	var top float64
	for _, f := range nums {
		top = max(top, math.Abs(f))
	}
	if top > 0 {
		n := float64(len(nums))
		var mean float64
		for _, f := range nums {
			mean += f / top / n // |f/top| <= 1: the sum stays within [-1, 1]
		}
		var ss float64
		for _, f := range nums {
			d := f/top - mean // within [-2, 2]
			ss += d * d / n
		}
		c.Mean = mean * top
		if sd := math.Sqrt(ss) * top; sd > 0 && finite(sd) {
			c.Scale = sd
		}
	}
	sorted := slices.Clone(nums)
	slices.Sort(sorted)
	for b := 1; b < bins; b++ {
		cut := sorted[b*len(sorted)/bins]
		// A cut at the maximum would leave an empty top bin.
		if cut < sorted[len(sorted)-1] && (len(c.Cuts) == 0 || cut > c.Cuts[len(c.Cuts)-1]) {
			c.Cuts = append(c.Cuts, cut)
		}
	}
}

func (c *column) fitCategorical(vals []string, minCount, maxLevels int) {
	counts := map[string]int{}
	for _, v := range vals {
		counts[strings.ToLower(v)]++
	}
	for v, n := range counts {
		if n >= minCount {
			c.Levels = append(c.Levels, v)
		}
	}
	slices.SortFunc(c.Levels, func(a, b string) int {
		if d := cmp.Compare(counts[b], counts[a]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	if len(c.Levels) > maxLevels {
		c.Levels = c.Levels[:maxLevels]
	}
}

func encodeRows(t *Table, rows []int, cols []column, src []int, missing *missingSet, labels []bool) *encoded {
	e := &encoded{n: len(rows), cols: len(cols), codes: make([]uint16, len(rows)*len(cols)), nums: make([]float64, len(rows)*len(cols))}
	for r, i := range rows {
		for k := range cols {
			code, z := cols[k].encode(t.Rows[i][src[k]], missing)
			e.codes[r*e.cols+k] = uint16(code)
			e.nums[r*e.cols+k] = z
		}
		if labels != nil {
			e.labels = append(e.labels, labels[i])
		}
	}
	return e
}

// labelsOf reads and checks the label column.
func labelsOf(t *Table, label string) ([]bool, error) {
	j := slices.Index(t.Columns, label)
	out := make([]bool, len(t.Rows))
	var pos int
	for i, row := range t.Rows {
		if len(row) != len(t.Columns) {
			return nil, crm.Invalid(idx("rows", i), "has %d cells, want %d", len(row), len(t.Columns))
		}
		v, err := ParseLabel(row[j])
		if err != nil {
			return nil, crm.Invalid(idx("rows", i)+"."+label, "%v", err)
		}
		out[i] = v
		if v {
			pos++
		}
	}
	if pos == 0 || pos == len(t.Rows) {
		return nil, crm.Invalid("label", "training needs both outcomes, got %d won of %d rows", pos, len(t.Rows))
	}
	return out, nil
}

// Contribution of one column to a predicted score.
type FeatureContribution struct {
	// Column and Value name the feature ("(missing)" for an unanswered cell).
	Column string `json:"column"`
	Value  string `json:"value"`
	// Weight is the change in log-odds the feature gave; positive raises
	// the probability.
	Weight float64 `json:"weight"`
}

// Predictor is a trained predictive lead-scoring model. It serialises to
// JSON ([json.Marshal]) and back ([LoadPredictor]) with identical scores. It
// is immutable and safe for concurrent use.
type Predictor struct {
	algorithm Algorithm
	cols      []column
	missing   *missingSet
	missVals  []string
	nb        *nbModel
	lr        *lrModel
	gbt       *gbtModel
	selection []Selection
}

// Selection is one candidate's cross-validated ROC AUC, recorded when
// [Auto] chose the algorithm.
type Selection struct {
	Algorithm Algorithm `json:"algorithm"`
	AUC       float64   `json:"auc"`
}

// Algorithm returns the algorithm the predictor uses.
func (p *Predictor) Algorithm() Algorithm { return p.algorithm }

// Selection returns the candidates [Auto] compared, or nil.
func (p *Predictor) Selection() []Selection { return slices.Clone(p.selection) }

// Columns returns the names of the columns the model reads.
func (p *Predictor) Columns() []string {
	out := make([]string, len(p.cols))
	for i, c := range p.cols {
		out[i] = c.Name
	}
	return out
}

// Train learns a predictor from past leads in t whose outcome is in column
// cfg.Label. Training is deterministic for a given table and config.
// Numeric columns may hold any finite number, up to the float64 maximum;
// every number of the predictor is finite. Should training ever produce a
// weight that is not (or is beyond 1e9 in absolute value), Train refuses
// with a [*crm.ValidationError] whose field names the column, as
// "columns.amount".
func Train(t *Table, cfg *TrainConfig) (*Predictor, error) {
	c := cfg.withDefaults()
	if err := c.validate(t); err != nil {
		return nil, fmt.Errorf("lead: train: %w", err)
	}
	labels, err := labelsOf(t, c.Label)
	if err != nil {
		return nil, fmt.Errorf("lead: train: %w", err)
	}
	rows := make([]int, len(t.Rows))
	for i := range rows {
		rows[i] = i
	}
	var sel []Selection
	if c.Algorithm == Auto {
		best := Selection{AUC: -1}
		for _, a := range []Algorithm{NaiveBayes, LogisticRegression, BoostedTrees, Ensemble} {
			cc := c
			cc.Algorithm = a
			cv, err := crossValidate(t, &cc, labels)
			if err != nil {
				return nil, fmt.Errorf("lead: train: %w", err)
			}
			sel = append(sel, Selection{Algorithm: a, AUC: cv.Mean})
			if cv.Mean > best.AUC {
				best = Selection{Algorithm: a, AUC: cv.Mean}
			}
		}
		c.Algorithm = best.Algorithm
	}
	p := train(t, &c, rows, labels)
	if p == nil {
		return nil, fmt.Errorf("lead: train: %w", crm.Invalid("exclude", "no column left to learn from"))
	}
	p.selection = sel
	// Training keeps every number finite (see fitNumeric); this refuses,
	// naming the column, rather than return a model that scores NaN or
	// cannot be encoded, should some input still defeat it.
	pj := p.toJSON()
	if bad := pj.numberProblems(); len(bad) > 0 {
		var probs crm.Problems
		for _, pr := range bad {
			if pr.col < 0 {
				probs.Add("algorithm", "training produced a model whose %s", pr.reason())
				continue
			}
			name := pj.Columns[pr.col].Name
			probs.Add("columns."+name, "training on column %q produced a model whose %s: exclude the column or rescale its values", truncate(name, 64), pr.reason())
		}
		return nil, fmt.Errorf("lead: train: %w", probs.Err())
	}
	return p, nil
}

func train(t *Table, c *TrainConfig, rows []int, labels []bool) *Predictor {
	missing := newMissingSet(c.Missing)
	cols, src := fitColumns(t, c, rows, missing)
	if len(cols) == 0 {
		return nil
	}
	enc := encodeRows(t, rows, cols, src, missing, labels)
	p := &Predictor{algorithm: c.Algorithm, cols: cols, missing: missing, missVals: slices.Clone(c.Missing)}
	switch c.Algorithm {
	case NaiveBayes:
		p.nb = trainNB(enc, cols, c.Smoothing)
	case LogisticRegression:
		p.lr = trainLR(enc, cols, c.lrConfig())
	case BoostedTrees:
		p.gbt = trainGBT(enc, cols, c)
	case Ensemble:
		p.lr = trainLR(enc, cols, c.lrConfig())
		p.gbt = trainGBT(enc, cols, c)
	}
	return p
}

// Bind returns a scorer of rows laid out as header. Columns the model reads
// but header lacks are scored as missing.
func (p *Predictor) Bind(header []string) *RowScorer {
	pos := make([]int, len(p.cols))
	for k, c := range p.cols {
		pos[k] = slices.Index(header, c.Name)
	}
	return &RowScorer{p: p, pos: pos}
}

// Unseen returns, for each categorical column of the model that t has,
// the share of its non-missing values that training never kept (they
// score as "other"), in the model's column order; columns whose values
// are all missing are left out. A share near 1 means the column holds
// something else than it did in training: another code list, another
// language, or the wrong column mapped.
func (p *Predictor) Unseen(t *Table) []ColumnShare {
	var out []ColumnShare
	for _, c := range p.cols {
		j := slices.Index(t.Columns, c.Name)
		if c.Type != ColumnCategorical || j < 0 {
			continue
		}
		var n, other int
		for _, row := range t.Rows {
			if j >= len(row) {
				continue
			}
			switch code, _ := c.encode(row[j], p.missing); code {
			case codeMissing:
			case codeOther:
				n++
				other++
			default:
				n++
			}
		}
		if n > 0 {
			out = append(out, ColumnShare{Column: c.Name, Share: float64(other) / float64(n)})
		}
	}
	return out
}

// IDLike returns the columns of t, other than those in skip, that look
// like record IDs rather than features: at least 20 rows, and at least
// 95% of the non-empty values distinct (a lead number, a phone, a
// timestamp). Learning from such a column fits the training rows and
// predicts nothing, so a caller leaves them out of [TrainConfig.Exclude]
// or asks the user.
func IDLike(t *Table, skip ...string) []string {
	var out []string
	for j, name := range t.Columns {
		if slices.Contains(skip, name) {
			continue
		}
		seen := make(map[string]struct{}, len(t.Rows))
		n := 0
		for _, row := range t.Rows {
			if j >= len(row) {
				continue
			}
			v := strings.TrimSpace(row[j])
			if v == "" {
				continue
			}
			n++
			seen[v] = struct{}{}
		}
		if n >= 20 && float64(len(seen)) >= 0.95*float64(n) {
			out = append(out, name)
		}
	}
	return out
}

// ColumnShare is a share of one column's values.
type ColumnShare struct {
	Column string
	Share  float64
}

// RowScorer scores rows of one header layout. It is safe for concurrent use.
type RowScorer struct {
	p   *Predictor
	pos []int
}

// Score returns the probability, in [0, 1], that the lead in row converts.
// Missing or short cells count as unanswered.
func (s *RowScorer) Score(row []string) float64 {
	return sigmoid(s.logit(row, nil))
}

// Explain returns the probability and the top (at most) k features by
// absolute contribution to the log-odds, strongest first.
func (s *RowScorer) Explain(row []string, k int) (float64, []FeatureContribution) {
	contrib := make([]float64, len(s.p.cols))
	logit := s.logit(row, contrib)
	out := make([]FeatureContribution, 0, len(contrib))
	for i, w := range contrib {
		if w == 0 {
			continue
		}
		cell := s.cell(row, i)
		code, _ := s.p.cols[i].encode(cell, s.p.missing)
		out = append(out, FeatureContribution{Column: s.p.cols[i].Name, Value: s.p.cols[i].describe(code, cell), Weight: w})
	}
	slices.SortStableFunc(out, func(a, b FeatureContribution) int { return cmp.Compare(math.Abs(b.Weight), math.Abs(a.Weight)) })
	if k >= 0 && len(out) > k {
		out = out[:k]
	}
	return sigmoid(logit), out
}

func (s *RowScorer) cell(row []string, k int) string {
	if j := s.pos[k]; j >= 0 && j < len(row) {
		return row[j]
	}
	return ""
}

func (s *RowScorer) logit(row []string, contrib []float64) float64 {
	var codes [64]uint16
	var nums [64]float64
	cs, ns := codes[:0], nums[:0]
	if len(s.p.cols) > len(codes) {
		cs, ns = make([]uint16, 0, len(s.p.cols)), make([]float64, 0, len(s.p.cols))
	}
	for k := range s.p.cols {
		code, z := s.p.cols[k].encode(s.cell(row, k), s.p.missing)
		cs = append(cs, uint16(code))
		ns = append(ns, z)
	}
	switch {
	case s.p.lr != nil && s.p.gbt != nil:
		var tmp [64]float64
		var c2 []float64
		if contrib != nil {
			c2 = tmp[:len(contrib):len(contrib)]
			if len(contrib) > len(tmp) {
				c2 = make([]float64, len(contrib))
			}
		}
		l := s.p.lr.logit(cs, ns, contrib)
		g := s.p.gbt.logit(cs, c2)
		for i := range contrib {
			contrib[i] = (contrib[i] + c2[i]) / 2
		}
		return (l + g) / 2
	case s.p.nb != nil:
		return s.p.nb.logit(cs, contrib)
	case s.p.lr != nil:
		return s.p.lr.logit(cs, ns, contrib)
	case s.p.gbt != nil:
		return s.p.gbt.logit(cs, contrib)
	}
	return 0
}

// Score returns the probability that the lead described by row (column name
// to cell) converts.
func (p *Predictor) Score(row map[string]string) float64 {
	header, cells := p.flatten(row)
	return p.Bind(header).Score(cells)
}

// Explain is [Predictor.Score] with the top k contributing features.
func (p *Predictor) Explain(row map[string]string, k int) (float64, []FeatureContribution) {
	header, cells := p.flatten(row)
	return p.Bind(header).Explain(cells, k)
}

func (p *Predictor) flatten(row map[string]string) ([]string, []string) {
	header := make([]string, len(p.cols))
	cells := make([]string, len(p.cols))
	for i, c := range p.cols {
		header[i], cells[i] = c.Name, row[c.Name]
	}
	return header, cells
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

// predictorJSON is the serialised form of a Predictor.
type predictorJSON struct {
	Format    string      `json:"format"`
	Algorithm Algorithm   `json:"algorithm"`
	Missing   []string    `json:"missing"`
	Columns   []column    `json:"columns"`
	NB        *nbModel    `json:"naive_bayes,omitempty"`
	LR        *lrModel    `json:"logistic_regression,omitempty"`
	GBT       *gbtModel   `json:"boosted_trees,omitempty"`
	Selection []Selection `json:"selection,omitempty"`
}

const predictorFormat = "crmkit.lead.predictor/v1"

func (p *Predictor) toJSON() *predictorJSON {
	return &predictorJSON{
		Format: predictorFormat, Algorithm: p.algorithm, Missing: p.missVals, Columns: p.cols,
		NB: p.nb, LR: p.lr, GBT: p.gbt, Selection: p.selection,
	}
}

// MarshalJSON encodes the predictor.
func (p *Predictor) MarshalJSON() ([]byte, error) { return json.Marshal(p.toJSON()) }

// maxPredictorWeight bounds the absolute value of every weight, prior,
// bias and leaf value of a predictor. Training stays far below it (log-odds
// of real data are tens, boosted leaves at most the row count); the bound
// keeps a hand-edited model from summing to an infinity and scoring NaN.
const maxPredictorWeight = 1e9

// numberProblem is a number of a predictor that is not finite or is out
// of bounds; col is the index of the column it belongs to, or -1.
type numberProblem struct {
	col   int
	path  string
	v     float64
	limit float64 // the largest absolute value allowed
}

// reason says what is wrong with the number.
func (pr *numberProblem) reason() string {
	if pr.limit == math.MaxFloat64 {
		return fmt.Sprintf("%s must be a finite number, got %g", pr.path, pr.v)
	}
	return fmt.Sprintf("%s must be a finite number from %g to %g, got %g", pr.path, -pr.limit, pr.limit, pr.v)
}

// numberProblems lists every number that is not finite, every weight out
// of [-maxPredictorWeight, maxPredictorWeight] and every AUC outside
// [0, 1], with its JSON path.
func (pj *predictorJSON) numberProblems() []numberProblem {
	var out []numberProblem
	check := func(col int, path string, v, limit float64) {
		if !finite(v) || math.Abs(v) > limit {
			out = append(out, numberProblem{col: col, path: path, v: v, limit: limit})
		}
	}
	inf := math.MaxFloat64
	for k := range pj.Columns {
		c := &pj.Columns[k]
		p := idx("columns", k)
		check(k, p+".mean", c.Mean, inf)
		check(k, p+".scale", c.Scale, inf)
		for i, cut := range c.Cuts {
			check(k, idx(p+".cuts", i), cut, inf)
		}
	}
	if nb := pj.NB; nb != nil {
		check(-1, "naive_bayes.prior", nb.Prior, maxPredictorWeight)
		for k, ws := range nb.LLR {
			for c, w := range ws {
				check(k, idx(idx("naive_bayes.llr", k), c), w, maxPredictorWeight)
			}
		}
	}
	if lr := pj.LR; lr != nil {
		check(-1, "logistic_regression.bias", lr.Bias, maxPredictorWeight)
		for k, ws := range lr.Codes {
			for c, w := range ws {
				check(k, idx(idx("logistic_regression.codes", k), c), w, maxPredictorWeight)
			}
		}
		for k, w := range lr.Scaled {
			check(k, idx("logistic_regression.scaled", k), w, maxPredictorWeight)
		}
		for i, p := range lr.Pairs {
			for c, w := range p.W {
				check(p.A, idx(idx("logistic_regression.pairs", i)+".w", c), w, maxPredictorWeight)
			}
		}
	}
	if g := pj.GBT; g != nil {
		check(-1, "boosted_trees.base", g.Base, maxPredictorWeight)
		for i, n := range g.Nodes {
			col := -1
			if n.Col >= 0 && n.Col < len(pj.Columns) {
				col = n.Col
			}
			check(col, idx("boosted_trees.nodes", i)+".v", n.Value, maxPredictorWeight)
		}
	}
	for i, s := range pj.Selection {
		check(-1, idx("selection", i)+".auc", s.AUC, 1)
	}
	// Columns and models of a hand-edited file may disagree in length:
	// report a problem with a column it has, else none.
	for i := range out {
		if out[i].col >= len(pj.Columns) {
			out[i].col = -1
		}
	}
	return out
}

// UnmarshalJSON decodes and checks a predictor, as [LoadPredictor].
func (p *Predictor) UnmarshalJSON(data []byte) error {
	q, err := LoadPredictor(data)
	if err != nil {
		return err
	}
	*p = *q
	return nil
}

// LoadPredictor decodes a predictor saved with [json.Marshal] and checks
// that its parts fit together and that every weight is at most 1e9 in
// absolute value, so a score is always a number in [0, 1].
func LoadPredictor(data []byte) (*Predictor, error) {
	var pj predictorJSON
	if err := decodeStrict(data, &pj); err != nil {
		return nil, fmt.Errorf("lead: load predictor: %w", err)
	}
	if err := pj.validate(); err != nil {
		return nil, fmt.Errorf("lead: load predictor: %w", err)
	}
	p := &Predictor{algorithm: pj.Algorithm, cols: pj.Columns, missing: newMissingSet(pj.Missing), missVals: pj.Missing,
		nb: pj.NB, lr: pj.LR, gbt: pj.GBT, selection: pj.Selection}
	for i := range p.cols {
		p.cols[i].buildIndex()
	}
	return p, nil
}

func (pj *predictorJSON) validate() error {
	var probs crm.Problems
	add := probs.Add
	if pj.Format != predictorFormat {
		add("format", "want %q, got %q", predictorFormat, truncate(pj.Format, 64))
	}
	for i := range pj.Columns {
		c := &pj.Columns[i]
		p := idx("columns", i)
		if c.Type != ColumnNumeric && c.Type != ColumnCategorical {
			add(p+".type", "want numeric or categorical")
		}
		if c.Type == ColumnNumeric && !(c.Scale > 0) {
			add(p+".scale", "must be positive")
		}
		if !slices.IsSorted(c.Cuts) {
			add(p+".cuts", "must be ascending")
		}
		if c.codes() > math.MaxUint16 {
			add(p, "has too many levels")
		}
	}
	for _, pr := range pj.numberProblems() {
		if pr.col >= 0 {
			add(pr.path, "column %q: %s", truncate(pj.Columns[pr.col].Name, 64), pr.reason())
		} else {
			add(pr.path, "%s", pr.reason())
		}
	}
	parts := 0
	switch pj.Algorithm {
	case NaiveBayes:
		if pj.NB == nil {
			add("naive_bayes", "is required by algorithm nb")
		} else {
			pj.NB.validate(pj.Columns, add)
		}
	case LogisticRegression:
		if pj.LR == nil {
			add("logistic_regression", "is required by algorithm logreg")
		} else {
			pj.LR.validate(pj.Columns, add)
		}
	case Ensemble:
		if pj.LR == nil || pj.GBT == nil {
			add("algorithm", "ensemble needs logistic_regression and boosted_trees")
		} else {
			pj.LR.validate(pj.Columns, add)
			pj.GBT.validate(pj.Columns, add)
		}
	case BoostedTrees:
		if pj.GBT == nil {
			add("boosted_trees", "is required by algorithm gbt")
		} else {
			pj.GBT.validate(pj.Columns, add)
		}
	default:
		add("algorithm", "want nb, logreg or gbt, got %q", truncate(string(pj.Algorithm), 32))
	}
	for _, set := range []bool{pj.NB != nil, pj.LR != nil, pj.GBT != nil} {
		if set {
			parts++
		}
	}
	if parts > 1 && !(pj.Algorithm == Ensemble && parts == 2 && pj.NB == nil) {
		add("algorithm", "the file holds more than one model")
	}
	if err := probs.Err(); err != nil {
		return err
	}
	return nil
}
