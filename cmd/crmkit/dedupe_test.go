package main

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// readClusters runs the output file through a CSV reader and returns id -> cluster.
func readClusters(t *testing.T, path string) (map[string]string, []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"id", "cluster_id"}, rows[0])
	out := map[string]string{}
	var order []string
	for _, r := range rows[1:] {
		out[r[0]] = r[1]
		order = append(order, r[0])
	}
	return out, order
}

func TestDedupeCommand(t *testing.T) {
	t.Parallel()
	t.Run("ClustersTrickyChineseCSVWithBOMCRLFAndQuotes", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "in.csv")
		data := "\ufeff id , 公司 , 电话 ,联系人\r\n" +
			"c1,北京华腾科技有限公司,13800138000,李伟\r\n" +
			"c2,\"华腾科技（北京）有限公司\",\"+86 138-0013-8000\",李薇\r\n" +
			"c3,\"北京华腾科技有限公司上海分公司\",021-55556666,王芳\r\n" +
			"c4,\"Acme, Inc.\",+1 415 555 2671,\"Smith, John\"\r\n" +
			"c5,ACME Inc,+1 (415) 555-2671,John Smith\r\n"
		require.NoError(t, os.WriteFile(in, []byte(data), 0o644))
		out := filepath.Join(dir, "out.csv")
		var stderr bytes.Buffer
		code := run([]string{"dedupe", "--in", in, "--out", out, "--id", "id",
			"--field", "company=公司", "--field", "phone=电话", "--field", "name=联系人"}, &bytes.Buffer{}, &stderr)
		require.Equal(t, 0, code, stderr.String())
		got, order := readClusters(t, out)
		require.Equal(t, []string{"c1", "c2", "c3", "c4", "c5"}, order, "one row per input row, in input order")
		require.Equal(t, got["c1"], got["c2"])
		require.NotEqual(t, got["c1"], got["c3"], "a branch is not its parent")
		require.Equal(t, got["c4"], got["c5"])
		require.NotEqual(t, got["c1"], got["c4"])
	})
	t.Run("ReportsBadRowWithLineNumberUnlessSkipping", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "in.csv")
		require.NoError(t, os.WriteFile(in, []byte("id,name,phone\na,Li Wei,13800138000\nb,Li Wei,extra,1\nc,\"Wang\"Fang\",1\nd,Li Wei,138 0013 8000\n"), 0o644))
		out := filepath.Join(dir, "out.csv")
		var stderr bytes.Buffer
		code := run([]string{"dedupe", "--in", in, "--out", out, "--id", "id", "--field", "name=name", "--field", "phone=phone"}, &bytes.Buffer{}, &stderr)
		require.Equal(t, 1, code)
		require.Contains(t, stderr.String(), "line 3")
		require.NoFileExists(t, out, "a failed run writes nothing")

		stderr.Reset()
		code = run([]string{"dedupe", "--in", in, "--out", out, "--id", "id", "--field", "name=name", "--field", "phone=phone", "--skip-bad-rows"}, &bytes.Buffer{}, &stderr)
		require.Equal(t, 0, code, stderr.String())
		require.Contains(t, stderr.String(), "line 3")
		require.Contains(t, stderr.String(), "line 4")
		got, order := readClusters(t, out)
		require.Equal(t, []string{"a", "d"}, order)
		require.Equal(t, got["a"], got["d"])
	})
	t.Run("RejectsUsageErrorsWithExitCode2", func(t *testing.T) {
		t.Parallel()
		for _, args := range [][]string{
			{"dedupe"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "colour=c"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name=n", "--threshold", "NaN"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name=n", "--threshold", "-Inf"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name=n", "--match-probability", "1.5"},
			{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "name=n", "--coherence", "NaN"},
		} {
			var stderr bytes.Buffer
			require.Equal(t, 2, run(args, &bytes.Buffer{}, &stderr), strings.Join(args, " "))
			require.NotEmpty(t, stderr.String())
			if len(args) < 3 {
				continue
			}
			if flag := args[len(args)-2]; strings.HasPrefix(flag, "--") && flag != "--field" && flag != "--id" {
				require.Contains(t, stderr.String(), flag, "the error names the flag")
			}
		}
	})
	t.Run("RefusesToWriteOverItsInput", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "in.csv")
		data := []byte("id,name\na,Li Wei\n")
		require.NoError(t, os.WriteFile(in, data, 0o644))
		for _, out := range []string{in, filepath.Join(dir, ".", "in.csv")} {
			var stderr bytes.Buffer
			code := run([]string{"dedupe", "--in", in, "--out", out, "--id", "id", "--field", "name=name"}, &bytes.Buffer{}, &stderr)
			require.Equal(t, 2, code, out)
			require.Contains(t, stderr.String(), "is the input file")
		}
		got, err := os.ReadFile(in)
		require.NoError(t, err)
		require.Equal(t, data, got, "the input is left as it was")
	})
	t.Run("RefusesAnUnknownRegion", func(t *testing.T) {
		t.Parallel()
		var stderr bytes.Buffer
		code := run([]string{"dedupe", "--in", "x.csv", "--out", "y.csv", "--id", "id", "--field", "phone=tel", "--region", "XX"}, &bytes.Buffer{}, &stderr)
		require.Equal(t, 2, code)
		require.Contains(t, stderr.String(), "region")
	})
	t.Run("NamesAMissingColumn", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		in := filepath.Join(dir, "in.csv")
		require.NoError(t, os.WriteFile(in, []byte("id,name\na,b\n"), 0o644))
		var stderr bytes.Buffer
		code := run([]string{"dedupe", "--in", in, "--out", filepath.Join(dir, "o.csv"), "--id", "id", "--field", "phone=tel"}, &bytes.Buffer{}, &stderr)
		require.Equal(t, 1, code)
		require.Contains(t, stderr.String(), `no column "tel"`)
	})
}

func TestDedupeCommandOnFEBRL(t *testing.T) {
	t.Parallel()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		require.NotEqual(t, dir, filepath.Dir(dir), "no go.mod above the test")
		dir = filepath.Dir(dir)
	}
	in := filepath.Join(dir, "..", "shared", "data", "febrl", "dataset3.csv")
	if _, err := os.Stat(in); err != nil {
		t.Skipf("shared data absent (%v): FEBRL figures need ../shared/data next to the module", err)
	}
	out := filepath.Join(t.TempDir(), "out.csv")
	var stderr bytes.Buffer
	code := run([]string{"dedupe", "--in", in, "--out", out, "--id", "rec_id",
		"--field", "given_name=given_name", "--field", "family_name=surname", "--field", "text=street_number",
		"--field", "street=address_1", "--field", "text=address_2", "--field", "city=suburb",
		"--field", "postcode=postcode", "--field", "state=state", "--field", "date=date_of_birth",
		"--field", "national_id=soc_sec_id"}, &bytes.Buffer{}, &stderr)
	require.Equal(t, 0, code, stderr.String())
	got, order := readClusters(t, out)
	require.Len(t, order, 5000)
	members := map[string][]string{}
	for _, id := range order {
		members[got[id]] = append(members[got[id]], id)
	}
	entity := func(id string) string { return strings.Split(id, "-")[1] }
	tp, fp := 0, 0
	for _, ms := range members {
		for i := range ms {
			for j := i + 1; j < len(ms); j++ {
				if entity(ms[i]) == entity(ms[j]) {
					tp++
				} else {
					fp++
				}
			}
		}
	}
	perEntity := map[string]int{}
	for _, id := range order {
		perEntity[entity(id)]++
	}
	actual := 0
	for _, n := range perEntity {
		actual += n * (n - 1) / 2
	}
	p, r := float64(tp)/float64(tp+fp), float64(tp)/float64(actual)
	f1 := 2 * p * r / (p + r)
	t.Logf("crmkit dedupe on FEBRL dataset3: precision %.4f recall %.4f F1 %.4f", p, r, f1)
	require.GreaterOrEqual(t, f1, 0.95)
}

// FuzzCSVInput feeds arbitrary bytes to the CSV reader: it never panics,
// ends, and every row it returns has the header's width, trimmed cells and
// a line number; every refused row names its line.
func FuzzCSVInput(f *testing.F) {
	for _, seed := range []string{
		"id,name\na,b\n",
		"\ufeff id , 公司 \r\nc1,\"华腾科技（北京）有限公司\"\r\n",
		"id,name\na,\"b\nc\"\nd\n",
		"id,name\na,\"b\"c\"\n",
		"\"",
		"",
		"id\n\n\n x \n",
	} {
		f.Add([]byte(seed))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "in.csv")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		in, err := openCSV(path, "auto")
		if err != nil {
			return
		}
		defer in.Close()
		width := len(in.Header())
		for range len(data) + 2 {
			rec, line, err := in.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var bad *badRowError
			if errors.As(err, &bad) {
				require.Positive(t, bad.line)
				continue
			}
			require.NoError(t, err)
			require.Len(t, rec, width)
			require.Positive(t, line)
			for _, v := range rec {
				require.Equal(t, strings.TrimSpace(v), v)
			}
		}
		t.Fatalf("the reader did not end within %d rows", len(data)+2)
	})
}
