package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMorning runs the example and checks what it tells.
func TestMorning(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	for _, want := range []string{
		"Follow-ups due today: 1", "09:30  Send the quote",
		"contacts 1, opportunities 1, tickets 1, activities 1, open tasks 1",
		"standing: yours", "activity.created", "customer.acquired",
	} {
		require.Contains(t, out.String(), want)
	}
}
