package report_test

import (
	"os"

	"github.com/crmkit/crmkit/report"
)

// A funnel as a table for people; the same figures go to Funnel.SVG for a
// chart.
func Example() {
	t := report.Table{
		Title:   "Funnel, Q1 2026",
		Columns: []string{"stage", "deals", "from previous"},
		Right:   []int{1, 2},
		Rows: [][]string{
			{"qualification", "200", ""},
			{"proposal", "50", "25.0%"},
			{"won", "10", "20.0%"},
		},
	}
	if err := t.WriteText(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// Funnel, Q1 2026
	// stage          deals  from previous
	// -------------  -----  -------------
	// qualification    200
	// proposal          50          25.0%
	// won               10          20.0%
}
