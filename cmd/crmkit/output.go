package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"io"
	"os"
)

// writeFileAtomic writes path through write atomically: a temporary file
// in the same folder is renamed over path only when everything was
// written, so a failed run never leaves half a file. The file is an
// ordinary one (0644).
func writeFileAtomic(path string, write func(w io.Writer) error) error {
	tmp, err := os.CreateTemp(dirOf(path), ".crmkit-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<16)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A temporary file is private (0600); the output is an ordinary file.
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeCSVFile writes records to path atomically (see [writeFileAtomic]).
func writeCSVFile(path string, write func(w *csv.Writer) error) error {
	return writeFileAtomic(path, func(out io.Writer) error {
		w := csv.NewWriter(out)
		if err := write(w); err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	})
}

// jsonLines writes one JSON value a line.
type jsonLines struct{ enc *json.Encoder }

func newJSONLines(w io.Writer) jsonLines {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return jsonLines{enc: enc}
}

// write writes v and a newline.
func (j jsonLines) write(v any) error { return j.enc.Encode(v) }
