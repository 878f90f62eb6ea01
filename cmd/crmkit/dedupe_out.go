package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/crmkit/crmkit/dedupe"
)

// clusterLine is one cluster of "crmkit dedupe --format jsonl".
type clusterLine struct {
	ClusterID string   `json:"cluster_id"`
	Size      int      `json:"size"`
	IDs       []string `json:"ids"`
	Lines     []int    `json:"lines"`
}

// writeClustersJSONL writes one object per cluster, singletons included,
// in the order of their first rows.
func writeClustersJSONL(w io.Writer, res *dedupe.Clustering, lines []int) error {
	members := make(map[int32][]int, res.Stats.Clusters)
	var order []int32
	for i, r := range res.Rep {
		if _, ok := members[r]; !ok {
			order = append(order, r)
		}
		members[r] = append(members[r], i)
	}
	out := newJSONLines(w)
	for _, r := range order {
		ms := members[r]
		c := clusterLine{ClusterID: res.IDs[r], Size: len(ms), IDs: make([]string, len(ms)), Lines: make([]int, len(ms))}
		for k, i := range ms {
			c.IDs[k], c.Lines[k] = res.IDs[i], lines[i]
		}
		if err := out.write(c); err != nil {
			return err
		}
	}
	return nil
}

// pairReason is one field's contribution in a JSON Lines pair.
type pairReason struct {
	Field  string  `json:"field"`
	Kind   string  `json:"kind"`
	Level  string  `json:"level"`
	Weight float64 `json:"weight"`
	Note   string  `json:"note,omitempty"`
}

// pairLine is one pair of "crmkit dedupe --pairs FILE --format jsonl".
type pairLine struct {
	LeftLine    int          `json:"left_line"`
	RightLine   int          `json:"right_line"`
	LeftID      string       `json:"left_id"`
	RightID     string       `json:"right_id"`
	Score       float64      `json:"score"`
	Probability float64      `json:"probability"`
	Decision    string       `json:"decision"`
	SameCluster bool         `json:"same_cluster"`
	Reasons     []pairReason `json:"reasons"`
}

// pairHeader is the header of the pairs CSV.
var pairHeader = []string{"left_line", "right_line", "left_id", "right_id", "score", "decision", "same_cluster", "reasons"}

// pairWriter writes scored pairs as CSV or JSON Lines.
type pairWriter struct {
	res    *dedupe.Clustering
	lines  []int
	csv    *csv.Writer
	json   jsonLines
	header bool
}

func newPairWriter(w io.Writer, format string, res *dedupe.Clustering, lines []int) *pairWriter {
	pw := &pairWriter{res: res, lines: lines}
	if format == "jsonl" {
		pw.json = newJSONLines(w)
	} else {
		pw.csv = csv.NewWriter(w)
	}
	return pw
}

// decisionName is "match" or "possible".
func decisionName(c dedupe.Class) string {
	if c == dedupe.Match {
		return "match"
	}
	return "possible"
}

// round1 rounds to a tenth of a bit, as the output shows weights.
func round1(x float64) float64 { return math.Round(x*10) / 10 }

// reasonsText is the reasons as one readable string:
// "name=exact(+8.1); phone=different(-4.0)", with a note in the brackets
// when the weight was not counted as the field alone.
func reasonsText(rs []dedupe.Reason) string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s=%s(%+.1f", r.Field, r.Level, r.Weight)
		if r.Note != "" {
			b.WriteString(", " + r.Note)
		}
		b.WriteString(")")
	}
	return b.String()
}

func (pw *pairWriter) write(p dedupe.ScoredPair) error {
	d := p.Decision
	same := pw.res.Rep[p.I] == pw.res.Rep[p.J]
	if pw.csv == nil {
		l := pairLine{LeftLine: pw.lines[p.I], RightLine: pw.lines[p.J], LeftID: pw.res.IDs[p.I], RightID: pw.res.IDs[p.J],
			Score: round1(d.Score), Probability: math.Round(d.Probability*1e4) / 1e4, Decision: decisionName(d.Class),
			SameCluster: same, Reasons: make([]pairReason, len(d.Reasons))}
		for i, r := range d.Reasons {
			l.Reasons[i] = pairReason{Field: r.Field, Kind: string(r.Kind), Level: r.Level.String(), Weight: round1(r.Weight), Note: r.Note}
		}
		return pw.json.write(l)
	}
	if !pw.header {
		pw.header = true
		if err := pw.csv.Write(pairHeader); err != nil {
			return err
		}
	}
	return pw.csv.Write([]string{strconv.Itoa(pw.lines[p.I]), strconv.Itoa(pw.lines[p.J]), pw.res.IDs[p.I], pw.res.IDs[p.J],
		strconv.FormatFloat(d.Score, 'f', 1, 64), decisionName(d.Class), strconv.FormatBool(same), reasonsText(d.Reasons)})
}

// flush ends the output: a CSV file without pairs still has its header.
func (pw *pairWriter) flush() error {
	if pw.csv == nil {
		return nil
	}
	if !pw.header {
		pw.header = true
		if err := pw.csv.Write(pairHeader); err != nil {
			return err
		}
	}
	pw.csv.Flush()
	return pw.csv.Error()
}
