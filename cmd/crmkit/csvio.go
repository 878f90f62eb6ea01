package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// csvInput reads a CSV file with a header row, one record at a time, the way
// real exports look: a UTF-8 byte-order mark is dropped, CRLF and LF both end
// lines, quoted fields may hold commas and line breaks, and header names and
// values are trimmed of surrounding spaces (so ", "-separated files read as
// plain CSV). Errors name the file and line.
type csvInput struct {
	path   string
	f      *os.File
	r      *csv.Reader
	header []string
}

// badRowError reports one unusable row; commands may skip such rows when the
// user asks.
type badRowError struct {
	path   string
	line   int
	reason string
}

func (e *badRowError) Error() string { return fmt.Sprintf("%s line %d: %s", e.path, e.line, e.reason) }

// openCSV opens path, read in the text encoding enc ([decodeInput]), and
// reads its header.
func openCSV(path, enc string) (*csvInput, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(&lineLimit{r: decodeInput(f, enc), max: maxLineBytes, line: 1}, 1<<16)
	if b, err := br.Peek(3); err == nil && string(b) == "\ufeff" {
		_, _ = br.Discard(3)
	}
	r := csv.NewReader(br)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.ReuseRecord = false
	in := &csvInput{path: path, f: f, r: r}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("%s: empty file, want a header row", path)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	seen := make(map[string]bool, len(header))
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
		if header[i] == "" {
			f.Close()
			return nil, fmt.Errorf("%s line 1: column %d has no name", path, i+1)
		}
		if seen[header[i]] {
			f.Close()
			return nil, fmt.Errorf("%s line 1: column %q appears twice", path, header[i])
		}
		seen[header[i]] = true
	}
	in.header = header
	return in, nil
}

// Header returns the trimmed column names.
func (in *csvInput) Header() []string { return in.header }

// Column returns the index of the named column, or an error naming the file
// and the columns it has.
func (in *csvInput) Column(name string) (int, error) {
	name = strings.TrimSpace(name)
	for i, h := range in.header {
		if h == name {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%s: no column %q (columns: %s)", in.path, name, strings.Join(in.header, ", "))
}

// Next returns the next record with its values trimmed and the line it
// starts on. Blank lines are skipped. At the end it returns io.EOF. A record
// whose cell count differs from the header, or that is not valid CSV,
// returns a *badRowError; reading may go on after it.
func (in *csvInput) Next() ([]string, int, error) {
	rec, err := in.r.Read()
	if errors.Is(err, io.EOF) {
		return nil, 0, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, pe.StartLine, &badRowError{path: in.path, line: pe.StartLine, reason: pe.Err.Error()}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", in.path, err)
	}
	line, _ := in.r.FieldPos(0)
	if len(rec) != len(in.header) {
		return nil, line, &badRowError{path: in.path, line: line,
			reason: fmt.Sprintf("%d cells, want %d as in the header", len(rec), len(in.header))}
	}
	for i := range rec {
		rec[i] = strings.TrimSpace(rec[i])
	}
	return rec, line, nil
}

// Close closes the file.
func (in *csvInput) Close() error { return in.f.Close() }

// readAllCSV reads a whole file: header, rows and each row's line. With
// skipBad, bad rows are reported to warn and skipped; otherwise the first
// one is the error.
func readAllCSV(path, enc string, skipBad bool, warn io.Writer) (header []string, rows [][]string, lines []int, err error) {
	in, err := openCSV(path, enc)
	if err != nil {
		return nil, nil, nil, err
	}
	defer in.Close()
	for {
		rec, line, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var bad *badRowError
		if errors.As(err, &bad) && skipBad {
			fmt.Fprintln(warn, "skipped:", bad)
			continue
		}
		if err != nil {
			return nil, nil, nil, err
		}
		rows = append(rows, rec)
		lines = append(lines, line)
	}
	return in.header, rows, lines, nil
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i+1]
	}
	return "."
}

// sameFile reports whether the paths name one file: the same path, or an
// existing file reached through another path or a link.
func sameFile(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ia, err := os.Stat(a)
	if err != nil {
		return false
	}
	ib, err := os.Stat(b)
	if err != nil {
		return false
	}
	return os.SameFile(ia, ib)
}
