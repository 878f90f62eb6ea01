package pgstore_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// An autocommit write (a repository call outside any unit of work) whose
// context ends while the statement is with the server may have been
// committed. It is reported as stored (no error), as not stored (the
// context's error, and then nothing changed), or as crm.ErrOutcomeUnknown —
// never as a context error for a write that was stored.
func TestAutocommitWritesCancelledMidwayAreNeverStoredSilently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, crmtest.NewClock(crmtest.Epoch()))
	ids := crmtest.NewIDs()
	rng := rand.New(rand.NewPCG(7, 11))
	var stored, refused, unknown int
	for i := range 300 {
		c := crmtest.Customer(ids)
		c.Level = "B"
		require.NoError(t, s.Customers().Create(ctx, c))
		c.Level = "A"
		cctx, cancel := context.WithCancel(ctx)
		wait := time.Duration(rng.IntN(1500)) * time.Microsecond
		timer := time.AfterFunc(wait, cancel)
		err := s.Customers().Update(cctx, c)
		timer.Stop()
		cancel()
		got, gerr := s.Customers().Get(ctx, c.ID)
		require.NoError(t, gerr)
		switch {
		case err == nil:
			stored++
			require.Equal(t, "A", got.Level, "update %d reported stored", i)
		case errors.Is(err, crm.ErrOutcomeUnknown):
			unknown++
		case errors.Is(err, context.Canceled):
			refused++
			require.Equal(t, "B", got.Level, "update %d was stored but reported as %v", i, err)
		default:
			t.Fatalf("update %d: unexpected error %v", i, err)
		}
	}
	t.Logf("stored %d, not stored %d, outcome unknown %d", stored, refused, unknown)
}
