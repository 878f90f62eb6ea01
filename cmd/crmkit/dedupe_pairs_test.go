package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// pairsInput has two duplicates (lines 2 and 3), a row sharing only the
// company (line 4), a bad row (line 5) and two unrelated rows.
const pairsInput = "id,公司,电话,联系人\n" +
	"c1,北京华腾科技有限公司,13800138000,李伟\n" +
	"c2,\"华腾科技（北京）有限公司\",\"+86 138-0013-8000\",李薇\n" +
	"c3,北京华腾科技有限公司,,\n" +
	"bad,row\n" +
	"c4,\"Acme, Inc.\",+1 415 555 2671,\"Smith, John\"\n" +
	"c5,上海远东物流有限公司,13900139000,王芳\n"

func runPairs(t *testing.T, format string) (dir, out, pairs, stderr string) {
	t.Helper()
	dir = t.TempDir()
	in := filepath.Join(dir, "in.csv")
	require.NoError(t, os.WriteFile(in, []byte(pairsInput), 0o644))
	out, pairs = filepath.Join(dir, "out."+format), filepath.Join(dir, "pairs."+format)
	var errBuf bytes.Buffer
	args := []string{"dedupe", "--in", in, "--out", out, "--pairs", pairs, "--id", "id", "--skip-bad-rows",
		"--field", "company=公司", "--field", "phone=电话", "--field", "name=联系人"}
	if format != "" {
		args = append(args, "--format", format)
	}
	code := run(args, &bytes.Buffer{}, &errBuf)
	require.Equal(t, 0, code, errBuf.String())
	for _, p := range []string{out, pairs} {
		st, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), p)
	}
	return dir, out, pairs, errBuf.String()
}

func TestDedupePairs(t *testing.T) {
	t.Parallel()
	t.Run("CSV", func(t *testing.T) {
		t.Parallel()
		_, _, pairs, stderr := runPairs(t, "csv")
		f, err := os.Open(pairs)
		require.NoError(t, err)
		defer f.Close()
		rows, err := csv.NewReader(f).ReadAll()
		require.NoError(t, err)
		require.Equal(t, pairHeader, rows[0])
		byPair := map[string][]string{}
		for _, r := range rows[1:] {
			byPair[r[2]+"-"+r[3]] = r
		}
		m := byPair["c1-c2"]
		require.NotNil(t, m, "the duplicates are a pair: %v", rows)
		require.Equal(t, []string{"2", "3"}, m[:2], "lines are the input's")
		require.Equal(t, "match", m[5])
		require.Equal(t, "true", m[6])
		require.Contains(t, m[7], "电话=exact(+")
		require.Contains(t, m[7], "公司=")
		require.Len(t, strings.Split(m[7], "; "), 3, "one reason per field")
		for key, r := range byPair {
			require.Contains(t, []string{"match", "possible"}, r[5], key)
			require.NotContains(t, key, "c4", "unrelated rows are in no pair")
			require.NotContains(t, key, "c5", "unrelated rows are in no pair")
		}
		if p := byPair["c1-c3"]; p != nil && p[5] == "possible" {
			require.Contains(t, p[7], "电话=missing(+0.0)")
		}
		require.Contains(t, stderr, "skipped:", "the bad row is reported once")
		require.Equal(t, 1, strings.Count(stderr, "skipped:"))
		require.Regexp(t, `\d+ matched and \d+ possible pairs, with their reasons, written to `, stderr)
	})
	t.Run("JSONL", func(t *testing.T) {
		t.Parallel()
		_, out, pairs, _ := runPairs(t, "jsonl")
		var clusters []clusterLine
		readJSONL(t, out, func(b []byte) {
			var c clusterLine
			require.NoError(t, json.Unmarshal(b, &c))
			clusters = append(clusters, c)
		})
		ids := []string{}
		for _, c := range clusters {
			require.Equal(t, c.Size, len(c.IDs))
			require.Equal(t, c.Size, len(c.Lines))
			require.Equal(t, c.ClusterID, c.IDs[0], "a cluster is named by its first row")
			ids = append(ids, c.IDs...)
		}
		require.ElementsMatch(t, []string{"c1", "c2", "c3", "c4", "c5"}, ids, "every row in one cluster")
		require.Equal(t, "c1", clusters[0].ClusterID)
		require.Contains(t, clusters[0].IDs, "c2")
		require.Equal(t, []int{2, 3}, clusters[0].Lines[:2])

		var got []pairLine
		readJSONL(t, pairs, func(b []byte) {
			var p pairLine
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			require.NoError(t, dec.Decode(&p))
			got = append(got, p)
		})
		require.NotEmpty(t, got)
		first := got[0]
		require.Equal(t, "c1", first.LeftID)
		require.Equal(t, "c2", first.RightID)
		require.Equal(t, "match", first.Decision)
		require.True(t, first.SameCluster)
		require.Len(t, first.Reasons, 3)
		sum := 0.0
		for _, r := range first.Reasons {
			sum += r.Weight
		}
		require.InDelta(t, first.Score, sum, 0.2, "the score is the sum of the reasons")
		require.Equal(t, "phone", first.Reasons[1].Kind)
		require.Equal(t, "exact", first.Reasons[1].Level)
	})
	t.Run("UsageErrors", func(t *testing.T) {
		t.Parallel()
		base := []string{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name=n"}
		for _, c := range []struct {
			extra []string
			want  string
		}{
			{[]string{"--format", "xml"}, "--format"},
			{[]string{"--pairs", "x.csv"}, "--pairs"},
			{[]string{"--pairs", "y.csv"}, "--pairs"},
		} {
			var stderr bytes.Buffer
			require.Equal(t, 2, run(append(append([]string{}, base...), c.extra...), &bytes.Buffer{}, &stderr), c.extra)
			require.Contains(t, stderr.String(), c.want)
		}
	})
	t.Run("HelpNamesTheShapes", func(t *testing.T) {
		t.Parallel()
		var stdout, stderr bytes.Buffer
		require.Equal(t, 0, run([]string{"dedupe", "-h"}, &stdout, &stderr))
		require.Equal(t, 1, strings.Count(stderr.String(), "usage:"), "usage printed once")
		require.Contains(t, stderr.String(), `"cluster_id":"c1","size":2`)
		require.Contains(t, stderr.String(), "left_line,right_line,left_id,right_id,score,decision,same_cluster,reasons")
	})
}

func readJSONL(t *testing.T, path string, fn func([]byte)) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(sc.Bytes())
	}
	require.NoError(t, sc.Err())
}
