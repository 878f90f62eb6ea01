package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"
)

// Encodings a CSV file may be read in.
const encodingHelp = "text encoding of the input: auto (UTF-8, refusing anything else), utf-8, gbk or gb18030"

// encodingFlag registers --encoding on fs.
func encodingFlag(fs *flag.FlagSet) *string {
	return fs.String("encoding", "auto", encodingHelp)
}

// checkEncoding reports an unknown --encoding value as a usage error.
func checkEncoding(cmd, enc string) error {
	switch enc {
	case "auto", "utf-8", "utf8", "gbk", "gb18030":
		return nil
	}
	return usageError{fmt.Sprintf("%s: --encoding %q: want auto, utf-8, gbk or gb18030", cmd, enc)}
}

// decodeInput returns r read in enc: GBK and GB18030 are decoded to UTF-8;
// UTF-8 ("auto", "utf-8") is checked, and the first invalid byte stops
// the read with an error naming the line and suggesting --encoding gbk, so
// a file saved by Excel in Chinese is never read as garbage.
func decodeInput(r io.Reader, enc string) io.Reader {
	switch enc {
	case "gbk":
		return simplifiedchinese.GBK.NewDecoder().Reader(r)
	case "gb18030":
		return simplifiedchinese.GB18030.NewDecoder().Reader(r)
	}
	return &utf8Check{r: r, line: 1}
}

// utf8Check passes bytes through while checking they are UTF-8.
type utf8Check struct {
	r     io.Reader
	carry []byte // the start of a character split across reads
	line  int    // the line the next checked byte is on
	err   error
}

func (u *utf8Check) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.r.Read(p)
	data := append(u.carry, p[:n]...)
	cut := len(data)
	if err == nil {
		// Hold back a character whose bytes are not all here yet.
		for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
			if utf8.RuneStart(data[i]) {
				if !utf8.FullRune(data[i:]) {
					cut = i
				}
				break
			}
		}
	}
	chunk := data[:cut]
	if !utf8.Valid(chunk) {
		for i := 0; i < len(chunk); {
			r, size := utf8.DecodeRune(chunk[i:])
			if r == utf8.RuneError && size <= 1 {
				line := u.line + bytes.Count(chunk[:i], []byte{'\n'})
				u.err = fmt.Errorf("line %d: not UTF-8 text (byte 0x%02x); a file saved by Excel in Chinese is usually GBK: add --encoding gbk", line, chunk[i])
				return 0, u.err
			}
			i += size
		}
	}
	u.line += bytes.Count(chunk, []byte{'\n'})
	u.carry = append(u.carry[:0], data[cut:]...)
	return n, err
}
