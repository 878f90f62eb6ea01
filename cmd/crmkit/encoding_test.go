package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/text/encoding/simplifiedchinese"
)

// gbkFile writes text encoded as GBK, as Excel in Chinese saves CSV.
func gbkFile(t *testing.T, dir, text string) string {
	t.Helper()
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(text))
	require.NoError(t, err)
	path := filepath.Join(dir, "gbk.csv")
	require.NoError(t, os.WriteFile(path, b, 0o644))
	return path
}

func TestAGBKFileIsRefusedUnlessItsEncodingIsGiven(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	in := gbkFile(t, dir, "id,公司,电话\r\nc1,北京华腾科技有限公司,13800138000\r\nc2,华腾科技（北京）有限公司,+86 138-0013-8000\r\n")
	out := filepath.Join(dir, "out.csv")
	args := []string{"dedupe", "--in", in, "--out", out, "--id", "id", "--field", "company=公司", "--field", "phone=电话", "--quiet"}

	var stderr bytes.Buffer
	code := run(args, &bytes.Buffer{}, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), "line 1: not UTF-8")
	require.Contains(t, stderr.String(), "--encoding gbk")
	_, err := os.Stat(out)
	require.True(t, os.IsNotExist(err), "nothing is written")

	stderr.Reset()
	code = run(append(args, "--encoding", "gbk"), &bytes.Buffer{}, &stderr)
	require.Equal(t, 0, code, stderr.String())
	got, _ := readClusters(t, out)
	require.Equal(t, got["c1"], got["c2"], "read as GBK, the two spellings of one company match")
	st, err := os.Stat(out)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o644), st.Mode().Perm(), "an output file is an ordinary file")

	stderr.Reset()
	code = run(append(args, "--encoding", "latin9"), &bytes.Buffer{}, &stderr)
	require.Equal(t, 2, code)
	require.Contains(t, stderr.String(), "--encoding")
}

func TestUTF8CheckNamesTheLineOfTheFirstBadByte(t *testing.T) {
	t.Parallel()
	text := "a,b\n中文,1\nok,\xff2\n"
	_, err := io.ReadAll(decodeInput(iotest.OneByteReader(strings.NewReader(text)), "auto"))
	require.ErrorContains(t, err, "line 3: not UTF-8 text (byte 0xff)")
}

// FuzzUTF8CheckAgreesWithUTF8Valid reads any input through the check in
// pieces of any size: it passes exactly the valid UTF-8 inputs, unchanged.
func FuzzUTF8CheckAgreesWithUTF8Valid(f *testing.F) {
	for _, s := range []string{"", "abc", "中文\n", "\xe4\xb8", "\xff", "a\nb\n\xe4\xb8\xad", "\xf0\x9f\x98\x80x"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, piece uint8) {
		r := io.Reader(bytes.NewReader(data))
		if piece%3 == 0 {
			r = iotest.OneByteReader(r)
		} else if piece%3 == 1 {
			r = iotest.HalfReader(r)
		}
		got, err := io.ReadAll(decodeInput(r, "auto"))
		if utf8.Valid(data) {
			require.NoError(t, err)
			require.Equal(t, data, got)
		} else {
			require.Error(t, err)
		}
	})
}
