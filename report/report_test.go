package report_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/report"
)

func TestTableAlignsWideCharactersAndNumbers(t *testing.T) {
	t.Parallel()
	tb := report.Table{Title: "Pipeline", Columns: []string{"stage", "deals", "value"}, Right: []int{1, 2},
		Rows: [][]string{{"初步接洽", "12", "CNY 1,200,000"}, {"proposal", "3", "USD 9,000"}}}
	var out bytes.Buffer
	require.NoError(t, tb.WriteText(&out))
	require.Equal(t, "Pipeline\n"+
		"stage     deals          value\n"+
		"--------  -----  -------------\n"+
		"初步接洽     12  CNY 1,200,000\n"+
		"proposal      3      USD 9,000\n", out.String())
	out.Reset()
	require.NoError(t, tb.WriteCSV(&out))
	require.Equal(t, "stage,deals,value\n初步接洽,12,"+`"CNY 1,200,000"`+"\nproposal,3,\"USD 9,000\"\n", out.String())
}

func TestTableRefusesRaggedRows(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		tb    report.Table
		field string
	}{
		"ragged row":     {report.Table{Columns: []string{"a", "b"}, Rows: [][]string{{"1", "2"}, {"3"}}}, "rows[1]"},
		"no columns":     {report.Table{}, "columns"},
		"unknown column": {report.Table{Columns: []string{"a"}, Right: []int{3}}, "right[0]"},
	} {
		err := tc.tb.WriteText(io.Discard)
		require.ErrorContains(t, err, tc.field, name)
		require.ErrorContains(t, tc.tb.WriteCSV(io.Discard), tc.field, name)
	}
}

// wellFormed fails unless doc is one well-formed XML document whose root
// is an svg element.
func wellFormed(t *testing.T, doc []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(doc))
	root := ""
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "%s", doc)
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	require.Equal(t, "svg", root)
}

func TestFunnelDrawsEachStageWithItsConversion(t *testing.T) {
	t.Parallel()
	f := report.Funnel{Title: "Q1 funnel <all>", Stages: []report.FunnelStage{{"Qualification", 200}, {"Proposal & quote", 50}, {"Won", 10}}}
	var out bytes.Buffer
	require.NoError(t, f.SVG(&out))
	wellFormed(t, out.Bytes())
	s := out.String()
	require.Contains(t, s, "Q1 funnel &lt;all&gt;")
	require.Contains(t, s, "Proposal &amp; quote")
	require.Contains(t, s, "50 (25.0%)")
	require.Contains(t, s, "10 (20.0%)")
	require.Equal(t, 3+1, strings.Count(s, "<rect"), "a background and a bar per stage")

	require.ErrorContains(t, (&report.Funnel{}).SVG(io.Discard), "stages")
	require.ErrorContains(t, (&report.Funnel{Stages: []report.FunnelStage{{"a", -1}}}).SVG(io.Discard), "stages[0].count")
}

func TestBarsDrawOneBarPerSeriesAndRefuseBadValues(t *testing.T) {
	t.Parallel()
	b := report.Bars{Title: "Pipeline by stage", Categories: []string{"proposal", "negotiation"},
		Series: []report.Series{{"CNY", []float64{1200000, 300000}}, {"USD", []float64{9000, 0}}}}
	var out bytes.Buffer
	require.NoError(t, b.SVG(&out))
	wellFormed(t, out.Bytes())
	require.Equal(t, 1+2+4, strings.Count(out.String(), "<rect"), "background, legend, a bar per category and series")
	for name, tc := range map[string]struct {
		b     report.Bars
		field string
	}{
		"no categories":  {report.Bars{Series: []report.Series{{"x", nil}}}, "categories"},
		"no series":      {report.Bars{Categories: []string{"a"}}, "series"},
		"short series":   {report.Bars{Categories: []string{"a", "b"}, Series: []report.Series{{"x", []float64{1}}}}, "series[0].values"},
		"negative value": {report.Bars{Categories: []string{"a"}, Series: []report.Series{{"x", []float64{-1}}}}, "series[0].values[0]"},
		"NaN":            {report.Bars{Categories: []string{"a"}, Series: []report.Series{{"x", []float64{math.NaN()}}}}, "series[0].values[0]"},
	} {
		require.ErrorContains(t, tc.b.SVG(io.Discard), tc.field, name)
	}
}

// FuzzChartsStayWellFormed feeds any labels to both charts: the SVG is
// always one well-formed document.
func FuzzChartsStayWellFormed(f *testing.F) {
	for _, s := range []string{"", "<script>", "a&b", "\x00\x01\t\n", "\xff\xfe", "]]>", strings.Repeat("长", 200)} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		var out bytes.Buffer
		require.NoError(t, (&report.Funnel{Title: a, Stages: []report.FunnelStage{{a, 3}, {b, 1}}}).SVG(&out))
		wellFormed(t, out.Bytes())
		out.Reset()
		require.NoError(t, (&report.Bars{Title: b, Categories: []string{a, b}, Series: []report.Series{{a, []float64{1, 2}}, {b, []float64{0, 5}}}}).SVG(&out))
		wellFormed(t, out.Bytes())
		var tbl bytes.Buffer
		require.NoError(t, (&report.Table{Columns: []string{a}, Rows: [][]string{{b}}}).WriteText(&tbl))
		require.Equal(t, 3, strings.Count(tbl.String(), "\n"), "a cell stays on its line")
	})
}
