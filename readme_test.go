package crmkit_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's wiring section quotes two programs whose tests run them;
// this keeps the quotes and the programs the same.
func TestReadmeQuotesTheWiringProgramsVerbatim(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	for _, path := range []string{"examples/wire/memory/main.go", "examples/wire/postgres/main.go"} {
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		require.True(t, strings.Contains(string(readme), "```go\n"+string(src)+"```"),
			"README.md does not quote %s verbatim; copy the file into the README", path)
	}
}
