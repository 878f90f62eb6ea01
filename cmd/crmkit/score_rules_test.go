package main

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

const rulesModel = "testdata/rules.json"

func TestScoreApplyRules(t *testing.T) {
	t.Parallel()
	t.Run("ScoresEachRowWithItsMatchedRules", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "leads.csv")
		require.NoError(t, os.WriteFile(in, []byte("\ufeffLead ID,industry,company_size,title,email,budget,notes\n"+
			"L1,manufacturing,\"1,200\",Sales Director,a@acme.com,250000,x\n"+
			"L2,retail,50,销售总监,b@gmail.com,,\n"+
			"L3,,,,,,\n"), 0o644))
		out := filepath.Join(dir, "scores.csv")
		var stdout, stderr bytes.Buffer
		code := run([]string{"score", "apply", "--rules", rulesModel, "--in", in, "--id", "Lead ID", "--out", out}, &stdout, &stderr)
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stdout.String(), "scored 3 rows with rule model smb-inbound v1")
		f, err := os.Open(out)
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Equal(t, [][]string{
			{"id", "score", "fit", "engagement", "grade", "stage", "rules"},
			// 30 industry + min(25+20, cap 40) size + 20 role
			{"L1", "90", "90", "0", "A4", "sales_qualified", "target-industry;mid-size;budget;decision-maker"},
			{"L2", "40", "40", "0", "C4", "", "target-industry;decision-maker;free-mail"},
			{"L3", "0", "0", "0", "D4", "", ""},
		}, rows)
		st, err := os.Stat(out)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	})
	t.Run("RefusesAFileLackingTheColumnsTheRulesRead", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "leads.csv")
		require.NoError(t, os.WriteFile(in, []byte("id,industry\nL1,retail\n"), 0o644))
		out := filepath.Join(dir, "scores.csv")
		var stderr bytes.Buffer
		require.Equal(t, 1, run([]string{"score", "apply", "--rules", rulesModel, "--in", in, "--id", "id", "--out", out}, &bytes.Buffer{}, &stderr))
		require.Contains(t, stderr.String(), `lacks 4 of the 5 columns the rules read: "company_size", "fields.budget", "title", "email"`)
		require.NoFileExists(t, out)
	})
	t.Run("ABadCellNamesItsLineUnlessSkipping", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "leads.csv")
		require.NoError(t, os.WriteFile(in, []byte("id,industry,company_size,title,email,fields.budget\n"+
			"L1,retail,many,,,\nL2,retail,10,,,lots\nL3,retail,10,,,5\n"), 0o644))
		out := filepath.Join(dir, "scores.csv")
		var stderr bytes.Buffer
		require.Equal(t, 1, run([]string{"score", "apply", "--rules", rulesModel, "--in", in, "--id", "id", "--out", out}, &bytes.Buffer{}, &stderr))
		require.Contains(t, stderr.String(), `line 2: column "company_size": want a whole number`)
		require.NoFileExists(t, out)

		stderr.Reset()
		require.Equal(t, 0, run([]string{"score", "apply", "--rules", rulesModel, "--in", in, "--id", "id", "--out", out, "--skip-bad-rows"}, &bytes.Buffer{}, &stderr), stderr.String())
		require.Contains(t, stderr.String(), `line 3: column "fields.budget": want a number`)
		got, err := os.ReadFile(out)
		require.NoError(t, err)
		require.Equal(t, "id,score,fit,engagement,grade,stage,rules\nL3,30,30,0,C4,,target-industry\n", string(got))
	})
	t.Run("WantsExactlyOneOfModelAndRules", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"score", "apply", "--in", "x.csv", "--id", "id", "--out", "y.csv"},
			{"score", "apply", "--model", "m.json", "--rules", rulesModel, "--in", "x.csv", "--id", "id", "--out", "y.csv"},
		} {
			var stderr bytes.Buffer
			require.Equal(t, 2, run(args, &bytes.Buffer{}, &stderr))
			require.Contains(t, stderr.String(), "exactly one of --model and --rules")
		}
	})
	t.Run("ABadModelNamesRulesAndThePath", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		bad := filepath.Join(dir, "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte(`{"id":"x","version":1,"fit":{"groups":[{"name":"g","rules":[{"id":"r","points":1,"when":{"field":"colour","equals":"red"}}]}]},"engagement":{}}`), 0o644))
		in := filepath.Join(dir, "in.csv")
		require.NoError(t, os.WriteFile(in, []byte("id\n1\n"), 0o644))
		var stderr bytes.Buffer
		require.Equal(t, 1, run([]string{"score", "apply", "--rules", bad, "--in", in, "--id", "id", "--out", filepath.Join(dir, "o.csv")}, &bytes.Buffer{}, &stderr))
		require.Contains(t, stderr.String(), "--rules")
		require.Contains(t, stderr.String(), "fit.groups[0].rules[0].when")
	})
}
