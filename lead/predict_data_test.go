package lead_test

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/crmkit/crmkit/lead"
	"github.com/stretchr/testify/require"
)

// leadsFile reads ../shared/data/leads/leads_train.csv relative to the
// repository root (the directory holding go.mod), or skips.
func leadsFile(t testing.TB) *lead.Table {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("go.mod not found above the test directory; cannot locate shared data")
		}
		dir = parent
	}
	path := filepath.Join(dir, "..", "shared", "data", "leads", "leads_train.csv")
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		t.Skipf("shared leads data set not found at %s (it ships with the crmkit repository checkout)", path)
	}
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	return &lead.Table{Columns: recs[0], Rows: recs[1:]}
}

// leakyColumns are filled in by sales staff after contact (see the data
// README), plus the two ID columns.
var leakyColumns = []string{
	"Prospect ID", "Lead Number", "Tags", "Lead Quality", "Lead Profile",
	"Asymmetrique Activity Index", "Asymmetrique Profile Index",
	"Asymmetrique Activity Score", "Asymmetrique Profile Score", "Last Notable Activity",
}

func TestPredictiveQualityOnSharedLeads(t *testing.T) {
	tbl := leadsFile(t)
	cv := func(a lead.Algorithm) lead.CVResult {
		res, err := lead.CrossValidate(tbl, &lead.TrainConfig{Label: "Converted", Exclude: leakyColumns, Algorithm: a})
		require.NoError(t, err)
		if a == "" {
			a = "default (ensemble)"
		}
		t.Logf("%-6s 5-fold stratified ROC AUC %.4f (folds %.4f)", a, res.Mean, res.Folds)
		return res
	}
	t.Run("DefaultModelReachesAUC0.905", func(t *testing.T) {
		res := cv("")
		require.GreaterOrEqual(t, res.Mean, 0.905)
	})
	// The default model's AUC is asserted in every run, -race included; the
	// baselines only document the gap and would triple the race run.
	skipUnderRace := func(t *testing.T) {
		if raceEnabled {
			t.Skip("baseline AUCs are checked without -race; the race detector makes training about ten times slower")
		}
	}
	t.Run("NaiveBayesIsAReasonableBaseline", func(t *testing.T) {
		skipUnderRace(t)
		res := cv(lead.NaiveBayes)
		require.GreaterOrEqual(t, res.Mean, 0.85)
	})
	t.Run("LogisticRegressionIsNearTheTarget", func(t *testing.T) {
		skipUnderRace(t)
		res := cv(lead.LogisticRegression)
		require.GreaterOrEqual(t, res.Mean, 0.90)
	})
}

// BenchmarkTrain10k trains the default model on 10,000 leads (the shared
// file's rows, cycled).
func BenchmarkTrain10k(b *testing.B) {
	for _, a := range []lead.Algorithm{lead.NaiveBayes, lead.LogisticRegression, lead.BoostedTrees, lead.Ensemble} {
		b.Run(string(a), func(b *testing.B) {
			src := leadsFile(b)
			tbl := &lead.Table{Columns: src.Columns}
			for i := range 10_000 {
				tbl.Rows = append(tbl.Rows, src.Rows[i%len(src.Rows)])
			}
			cfg := &lead.TrainConfig{Label: "Converted", Exclude: leakyColumns, Algorithm: a}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := lead.Train(tbl, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkPredictorScore(b *testing.B) {
	tbl := leadsFile(b)
	p, err := lead.Train(tbl, &lead.TrainConfig{Label: "Converted", Exclude: leakyColumns})
	if err != nil {
		b.Fatal(err)
	}
	s := p.Bind(tbl.Columns)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = s.Score(tbl.Rows[i%len(tbl.Rows)])
	}
}
