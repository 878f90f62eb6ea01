package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/width"
)

// Table is a titled grid of text cells.
type Table struct {
	Title   string
	Columns []string
	// Rows hold one cell per column.
	Rows [][]string
	// Right lists the columns aligned right (numbers), by index.
	Right []int
}

// check reports a row whose length differs from the columns.
func (t *Table) check() error {
	if len(t.Columns) == 0 {
		return fmt.Errorf("report: table %q: columns: at least one is required", t.Title)
	}
	for i, r := range t.Rows {
		if len(r) != len(t.Columns) {
			return fmt.Errorf("report: table %q: rows[%d]: has %d cells, the table has %d columns", t.Title, i, len(r), len(t.Columns))
		}
	}
	for i, c := range t.Right {
		if c < 0 || c >= len(t.Columns) {
			return fmt.Errorf("report: table %q: right[%d]: column %d does not exist", t.Title, i, c)
		}
	}
	return nil
}

// WriteText writes the table as aligned columns under its title, for
// people: wide (CJK) characters count two columns, and control
// characters in cells are shown as spaces.
func (t *Table) WriteText(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	right := make([]bool, len(t.Columns))
	for _, c := range t.Right {
		right[c] = true
	}
	widths := make([]int, len(t.Columns))
	grid := append([][]string{t.Columns}, t.Rows...)
	for _, r := range grid {
		for i, c := range r {
			widths[i] = max(widths[i], cellWidth(clean(c)))
		}
	}
	var b strings.Builder
	if t.Title != "" {
		b.WriteString(clean(t.Title))
		b.WriteByte('\n')
	}
	for n, r := range grid {
		var line strings.Builder
		for i, c := range r {
			c = clean(c)
			pad := strings.Repeat(" ", widths[i]-cellWidth(c))
			if i > 0 {
				line.WriteString("  ")
			}
			if right[i] {
				line.WriteString(pad + c)
			} else {
				line.WriteString(c + pad)
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
		if n == 0 {
			for i, wd := range widths {
				if i > 0 {
					b.WriteString("  ")
				}
				b.WriteString(strings.Repeat("-", wd))
			}
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCSV writes the header and rows as CSV (RFC 4180), for scripts.
func (t *Table) WriteCSV(w io.Writer) error {
	if err := t.check(); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(t.Columns); err != nil {
		return err
	}
	if err := cw.WriteAll(t.Rows); err != nil {
		return err
	}
	return cw.Error()
}

// clean replaces control characters (tabs, newlines) with spaces and
// invalid UTF-8 with U+FFFD, so a cell stays on its line.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// cellWidth is the number of terminal columns s takes.
func cellWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}
