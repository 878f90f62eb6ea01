package report

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// FunnelStage is one stage of a [Funnel]: its name and how many records
// reached it.
type FunnelStage struct {
	Name  string
	Count int64
}

// Funnel is a sales funnel: stages in order, each drawn as a bar as wide
// as its count, labelled with the count and the conversion from the stage
// before.
type Funnel struct {
	Title  string
	Stages []FunnelStage
}

// Series is one series of a [Bars] chart: a value per category.
type Series struct {
	Name   string
	Values []float64
}

// Bars is a bar chart: one group of bars per category, one bar per
// series (the pipeline by stage, one series per currency).
type Bars struct {
	Title      string
	Categories []string
	Series     []Series
}

// Chart geometry, in SVG user units.
const (
	chartWidth = 720
	rowHeight  = 34
	labelWidth = 200
	margin     = 16
	titleSpace = 40
)

// palette colours series in order, and then repeats.
var palette = []string{"#2f6fb0", "#e08a2c", "#3a9a5b", "#b94a48", "#7a5ea8", "#8c8c8c"}

// SVG writes the funnel as a standalone SVG document.
func (f *Funnel) SVG(w io.Writer) error {
	if len(f.Stages) == 0 {
		return fmt.Errorf("report: funnel %q: stages: at least one is required", f.Title)
	}
	var top int64
	for i, s := range f.Stages {
		if s.Count < 0 {
			return fmt.Errorf("report: funnel %q: stages[%d].count: must not be negative, got %d", f.Title, i, s.Count)
		}
		top = max(top, s.Count)
	}
	height := titleSpace + len(f.Stages)*rowHeight + margin
	sw := newSVG(w, chartWidth, height, f.Title)
	barSpace := float64(chartWidth - labelWidth - 2*margin - 120)
	for i, s := range f.Stages {
		y := titleSpace + i*rowHeight
		frac := 0.0
		if top > 0 {
			frac = float64(s.Count) / float64(top)
		}
		bw := math.Max(1, frac*barSpace)
		x := float64(labelWidth+margin) + (barSpace-bw)/2
		sw.text(labelWidth, y+rowHeight/2+5, "end", s.Name)
		sw.printf(`<rect x="%s" y="%d" width="%s" height="%d" fill="%s"/>`+"\n", num(x), y+4, num(bw), rowHeight-8, palette[0])
		label := strconv.FormatInt(s.Count, 10)
		if i > 0 && f.Stages[i-1].Count > 0 {
			label += fmt.Sprintf(" (%.1f%%)", 100*float64(s.Count)/float64(f.Stages[i-1].Count))
		}
		sw.text(labelWidth+margin+int(barSpace)+8, y+rowHeight/2+5, "start", label)
	}
	return sw.close()
}

// SVG writes the bar chart as a standalone SVG document, with a legend
// when there is more than one series.
func (b *Bars) SVG(w io.Writer) error {
	if len(b.Categories) == 0 {
		return fmt.Errorf("report: bars %q: categories: at least one is required", b.Title)
	}
	if len(b.Series) == 0 {
		return fmt.Errorf("report: bars %q: series: at least one is required", b.Title)
	}
	top := 0.0
	for i, s := range b.Series {
		if len(s.Values) != len(b.Categories) {
			return fmt.Errorf("report: bars %q: series[%d].values: has %d values for %d categories", b.Title, i, len(s.Values), len(b.Categories))
		}
		for j, v := range s.Values {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("report: bars %q: series[%d].values[%d]: must be a finite number at least 0, got %v", b.Title, i, j, v)
			}
			top = math.Max(top, v)
		}
	}
	n := len(b.Series)
	group := rowHeight * n
	legend := 0
	if n > 1 {
		legend = rowHeight
	}
	height := titleSpace + legend + len(b.Categories)*(group+8) + margin
	sw := newSVG(w, chartWidth, height, b.Title)
	if n > 1 {
		for i, s := range b.Series {
			x := labelWidth + margin + i*130
			sw.printf(`<rect x="%d" y="%d" width="12" height="12" fill="%s"/>`+"\n", x, titleSpace, palette[i%len(palette)])
			sw.text(x+18, titleSpace+11, "start", s.Name)
		}
	}
	barSpace := float64(chartWidth - labelWidth - 2*margin - 120)
	for c, cat := range b.Categories {
		y0 := titleSpace + legend + c*(group+8)
		sw.text(labelWidth, y0+group/2+5, "end", cat)
		for i, s := range b.Series {
			v := s.Values[c]
			bw := 0.0
			if top > 0 {
				bw = v / top * barSpace
			}
			y := y0 + i*rowHeight
			sw.printf(`<rect x="%d" y="%d" width="%s" height="%d" fill="%s"/>`+"\n", labelWidth+margin, y+4, num(bw), rowHeight-8, palette[i%len(palette)])
			sw.text(labelWidth+margin+int(bw)+6, y+rowHeight/2+5, "start", strconv.FormatFloat(v, 'f', -1, 64))
		}
	}
	return sw.close()
}

// svgWriter writes one SVG document, keeping the first error.
type svgWriter struct {
	w   *bufio.Writer
	err error
}

func newSVG(w io.Writer, width, height int, title string) *svgWriter {
	sw := &svgWriter{w: bufio.NewWriter(w)}
	sw.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="13">`+"\n",
		width, height, width, height)
	sw.printf(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	if title != "" {
		sw.printf(`<title>%s</title>`+"\n", escape(title))
		sw.printf(`<text x="%d" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", margin, escape(title))
	}
	return sw
}

func (sw *svgWriter) printf(format string, args ...any) {
	if sw.err == nil {
		_, sw.err = fmt.Fprintf(sw.w, format, args...)
	}
}

// text writes a label at (x, y), anchored "start" or "end".
func (sw *svgWriter) text(x, y int, anchor, s string) {
	sw.printf(`<text x="%d" y="%d" text-anchor="%s">%s</text>`+"\n", x, y, anchor, escape(s))
}

func (sw *svgWriter) close() error {
	sw.printf("</svg>\n")
	if sw.err != nil {
		return sw.err
	}
	return sw.w.Flush()
}

// escape makes s safe as XML character data: markup escaped, characters
// XML does not allow (control characters, invalid UTF-8) replaced by
// U+FFFD, and long labels cut.
func escape(s string) string {
	s = clean(s)
	if r := []rune(s); len(r) > 60 {
		s = string(r[:59]) + "…"
	}
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// num formats a coordinate with at most two decimals.
func num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }
