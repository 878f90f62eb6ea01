package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDashboard runs the example and checks its figures hang together and
// its charts are SVG documents.
func TestDashboard(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, dir))
	for _, want := range []string{"张敏's dashboard", "win rate", "Funnel", "qualification        78", "Open pipeline now", "Forecast by expected close"} {
		require.Contains(t, out.String(), want)
	}
	for _, name := range []string{"funnel.svg", "pipeline.svg"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		d := xml.NewDecoder(bytes.NewReader(b))
		for {
			_, err := d.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			require.NoError(t, err, name)
		}
	}
}
