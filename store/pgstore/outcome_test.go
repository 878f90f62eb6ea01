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
	"github.com/crmkit/crmkit/pool"
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

// A one-write claim whose context ends at any moment is reported stored
// (and is), or reported with the context's error (and nothing of it was
// kept: no owner, no ledger entry, no event), never left open on a
// healthy connection.
func TestClaimsCancelledMidwayHaveADefiniteOutcome(t *testing.T) {
	t.Parallel()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	pb := newPoolBench(t, newStore(t, clock), clock, ids)
	// The claim takes about a millisecond here, several under -race: the
	// cancellations fall before, inside and after its write.
	cs := pb.load(t, 150, false, time.Time{})
	rng := rand.New(rand.NewPCG(3, 5))
	var stored, refused int
	for i, c := range cs {
		ctx, cancel := context.WithCancel(pb.ctx)
		timer := time.AfterFunc(time.Duration(rng.IntN(8000))*time.Microsecond, cancel)
		_, err := pb.svc.Claim(ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: c})
		timer.Stop()
		cancel()
		got, gerr := pb.store.Customers().Get(pb.ctx, c)
		require.NoError(t, gerr)
		entries, lerr := pb.svc.Ledger(pb.ctx, c, 0, 10)
		require.NoError(t, lerr)
		switch {
		case err == nil:
			stored++
			require.Equal(t, pb.user.ID, got.OwnerID, "claim %d reported stored", i)
			require.Len(t, entries, 1, "claim %d: its entry", i)
		case errors.Is(err, context.Canceled):
			refused++
			require.Equal(t, crm.NilID, got.OwnerID, "claim %d was stored but reported as %v", i, err)
			require.Empty(t, entries, "claim %d: no entry", i)
		default:
			t.Fatalf("claim %d: unexpected error %v", i, err)
		}
	}
	evs, err := pb.store.Outbox().Pending(pb.ctx, crm.MaxPageLimit)
	require.NoError(t, err)
	claimed := 0
	for _, ev := range evs {
		if ev.Type == pool.EventClaimed {
			claimed++
		}
	}
	require.Equal(t, stored, claimed, "one event per stored claim")
	t.Logf("stored %d, not stored %d", stored, refused)
}

// A claim waiting for a holding that another unit of work has locked ends
// when its context does, keeping nothing, without waiting for the lock.
func TestABlockedClaimEndsWithItsContext(t *testing.T) {
	t.Parallel()
	clock := crmtest.NewClock(crmtest.Epoch())
	ids := crmtest.NewIDs()
	pb := newPoolBench(t, newStore(t, clock), clock, ids)
	c := pb.load(t, 1, false, time.Time{})[0]
	locked, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- pb.store.InTx(pb.ctx, func(ctx context.Context, tx crm.Tx) error {
			if _, err := tx.(pool.Tx).PoolHoldings().Get(ctx, c); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	ctx, cancel := context.WithTimeout(pb.ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := pb.svc.Claim(ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: c})
	waited := time.Since(start)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, waited, 10*time.Second, "the claim does not wait for the lock")
	close(release)
	require.NoError(t, <-held)
	got, err := pb.store.Customers().Get(pb.ctx, c)
	require.NoError(t, err)
	require.Equal(t, crm.NilID, got.OwnerID)
	res, err := pb.svc.Claim(pb.ctx, pool.ClaimRequest{Actor: pb.user.ID, CustomerID: c})
	require.NoError(t, err)
	require.False(t, res.Replayed)
}
