package main

import (
	"bytes"
	"fmt"
	"io"
)

// maxLineBytes bounds one physical line of CSV input, so a field far over
// any limit (a 100 MB cell) is refused with its line instead of being read
// whole into memory.
const maxLineBytes = 4 << 20

// lineLimit passes bytes through, failing on a line longer than max.
type lineLimit struct {
	r    io.Reader
	max  int
	cur  int // bytes of the current line so far
	line int // the current line
	err  error
}

func (l *lineLimit) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	chunk := p[:n]
	for len(chunk) > 0 {
		i := bytes.IndexByte(chunk, '\n')
		if i < 0 {
			l.cur += len(chunk)
			break
		}
		if l.cur+i > l.max {
			break
		}
		l.cur, l.line, chunk = 0, l.line+1, chunk[i+1:]
	}
	if l.cur > l.max || (len(chunk) > 0 && bytes.IndexByte(chunk, '\n') >= 0) {
		l.err = fmt.Errorf("line %d: longer than %d MiB; a field is at most 64 KiB", l.line, l.max>>20)
		return 0, l.err
	}
	return n, err
}
