package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"
)

const importCSV = "编号,公司,电话,邮箱,签约日期\n" +
	"C-1,北京华腾科技有限公司,１３８ ００１３ ８０００,Sales@HuaTeng.CN,2024年3月5日\n" +
	"C-2,上海明远贸易有限公司,021-6666 8888,info@mingyuan.cn,2023/11/2\n" +
	"C-3,北京华腾科技有限公司,13800138000,,\n" +
	"C-4,,13900139000,,\n"

func importArgs(in, report string, extra ...string) []string {
	return append([]string{"import", "customers", "--tenant", "acme", "--in", in, "--source", "erp", "--id", "编号",
		"--map", "name=公司", "--map", "phone=电话", "--map", "email=邮箱", "--map", "custom.signed_on=签约日期",
		"--on-duplicate", "block", "--report", report, "--quiet"}, extra...)
}

// readReport returns the report's rows without the header.
func readReport(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"line", "external_id", "outcome", "customer_id", "reason"}, recs[0])
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	return recs[1:]
}

func column(recs [][]string, i int) []string {
	out := make([]string, len(recs))
	for j, r := range recs {
		out[j] = r[i]
	}
	return out
}

func TestImportDryRunWritesTheReport(t *testing.T) {
	dir := t.TempDir()
	in, report := filepath.Join(dir, "in.csv"), filepath.Join(dir, "report.csv")
	require.NoError(t, os.WriteFile(in, []byte(importCSV), 0o644))
	code, out, errOut := crmkitCLI(importArgs(in, report, "--dry-run")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "dry run, nothing stored: 4 rows: 2 created, 1 blocked, 1 invalid")
	recs := readReport(t, report)
	require.Equal(t, []string{"2", "3", "4", "5"}, column(recs, 0))
	require.Equal(t, []string{"created", "created", "blocked", "invalid"}, column(recs, 2))
	require.Equal(t, recs[0][3], recs[2][3], "the blocked row names the customer it duplicates")
	require.Contains(t, recs[3][4], `column "公司": is required`)
}

func TestImportNamesTheFlagOrLineOfBadInput(t *testing.T) {
	dir := t.TempDir()
	in, report := filepath.Join(dir, "in.csv"), filepath.Join(dir, "report.csv")
	require.NoError(t, os.WriteFile(in, []byte(importCSV), 0o644))
	dupHeader := filepath.Join(dir, "dup.csv")
	require.NoError(t, os.WriteFile(dupHeader, []byte("编号,公司,公司\n1,a,b\n"), 0o644))
	huge := filepath.Join(dir, "huge.csv")
	require.NoError(t, os.WriteFile(huge, []byte("编号,公司,电话,邮箱,签约日期\nC-1,"+strings.Repeat("x", 5<<20)+",1,,\n"), 0o644))
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"import", "customers", "--dry-run", "--tenant", "a", "--in", in, "--source", "erp", "--id", "编号", "--map", "colour=公司", "--on-duplicate", "block", "--report", report}, "--map", 2},
		{[]string{"import", "customers", "--dry-run", "--tenant", "a", "--in", in, "--source", "erp", "--id", "编号", "--map", "name=公司", "--on-duplicate", "skip", "--report", report}, "--on-duplicate", 2},
		{[]string{"import", "customers", "--dry-run", "--tenant", "a", "--in", in, "--source", "erp", "--id", "编号", "--map", "name=公司", "--on-duplicate", "block", "--report", report, "--batch", "0"}, "--batch", 2},
		{[]string{"import", "customers", "--dry-run", "--in", in, "--source", "erp", "--id", "编号", "--map", "name=公司", "--on-duplicate", "block", "--report", report}, "--tenant", 2},
		{[]string{"import", "customers", "--tenant", "a", "--in", in, "--source", "erp", "--id", "编号", "--map", "name=公司", "--on-duplicate", "block", "--report", report}, "--dsn", 2},
		{importArgs(in, report, "--dry-run", "--id", "ID"), `--id: line 1: ` + in + `: no column "ID"`, 1},
		{importArgs(in, report, "--dry-run", "--map", "region=地区"), `--map region=地区: line 1`, 1},
		{importArgs(dupHeader, report, "--dry-run"), `line 1: column "公司" appears twice`, 1},
		{importArgs(huge, report, "--dry-run"), "line 2: longer than 4 MiB", 1},
		{[]string{"import", "leads"}, "customers", 2},
	} {
		t.Setenv("CRMKIT_DATABASE_URL", "")
		code, _, errOut := crmkitCLI(tc.args...)
		require.Equal(t, tc.code, code, "%v: %s", tc.args, errOut)
		require.Contains(t, errOut, tc.want, "%v", tc.args)
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		require.Less(t, len(lines[len(lines)-1]), 400, "errors stay short")
	}
	// A NUL byte or an oversized field is reported on its row.
	bad := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(bad, []byte("编号,公司,电话,邮箱,签约日期\nC-1,a\x00b,,,\nC-2,"+strings.Repeat("y", 70000)+",,,\nC-3,好公司,,,\n"), 0o644))
	code, _, errOut := crmkitCLI(importArgs(bad, report, "--dry-run")...)
	require.Equal(t, 0, code, errOut)
	recs := readReport(t, report)
	require.Equal(t, []string{"invalid", "invalid", "created"}, column(recs, 2))
	require.Equal(t, `column "公司": NUL byte`, recs[0][4])
	require.Equal(t, `column "公司": value of 70000 bytes, at most 65536`, recs[1][4])
}

func TestImportAgainstPostgreSQL(t *testing.T) {
	dsn := testDSN(t)
	schema := scratchSchema(t, dsn)
	dir := t.TempDir()
	in, report := filepath.Join(dir, "in.csv"), filepath.Join(dir, "report.csv")
	require.NoError(t, os.WriteFile(in, []byte(importCSV), 0o644))

	code, _, errOut := crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "run crmkit migrate first")
	code, _, errOut = crmkitCLI("migrate", "--dsn", dsn, "--schema", schema)
	require.Equal(t, 0, code, errOut)

	code, out, errOut := crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "4 rows: 2 created, 1 blocked, 1 invalid")
	first := readReport(t, report)

	// Again: nothing changes.
	code, out, errOut = crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "4 rows: 2 unchanged, 1 blocked, 1 invalid")
	again := readReport(t, report)
	require.Equal(t, []string{"unchanged", "unchanged", "blocked", "invalid"}, column(again, 2))
	require.Equal(t, column(first, 3), column(again, 3), "the same customers")

	// The same file saved in GBK, read with --encoding gbk: unchanged too;
	// without it, refused with a hint.
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(importCSV)
	require.NoError(t, err)
	gin := filepath.Join(dir, "gbk.csv")
	require.NoError(t, os.WriteFile(gin, []byte(gbk), 0o644))
	code, _, errOut = crmkitCLI(importArgs(gin, report, "--dsn", dsn, "--schema", schema)...)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "--encoding gbk")
	code, out, errOut = crmkitCLI(importArgs(gin, report, "--dsn", dsn, "--schema", schema, "--encoding", "gbk")...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "2 unchanged")

	// A changed row updates its customer; a new one is created.
	changed := strings.Replace(importCSV, "info@mingyuan.cn", "sales@mingyuan.cn", 1) + "C-5,深圳前海微众科技有限公司,0755-8888 1234,,\n"
	require.NoError(t, os.WriteFile(in, []byte(changed), 0o644))
	code, out, errOut = crmkitCLI(importArgs(in, report, "--dsn", dsn, "--schema", schema)...)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "5 rows: 1 created, 1 updated, 1 unchanged, 1 blocked, 1 invalid")
}
