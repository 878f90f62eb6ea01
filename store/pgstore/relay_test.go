package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/relay"
)

// inFlightSink records deliveries and every event delivered while another
// delivery of it was still in flight.
type inFlightSink struct {
	mu       sync.Mutex
	inFlight map[crm.ID]bool
	count    map[crm.ID]int
	order    map[crm.Ref][]int64
	twice    int
}

func (s *inFlightSink) Deliver(ctx context.Context, events []crm.Event) error {
	s.mu.Lock()
	for _, e := range events {
		if s.inFlight[e.ID] {
			s.twice++
		}
		s.inFlight[e.ID] = true
	}
	s.mu.Unlock()
	time.Sleep(time.Millisecond) // hold the batch in flight a moment
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range events {
		delete(s.inFlight, e.ID)
		s.count[e.ID]++
		s.order[e.Subject] = append(s.order[e.Subject], e.Seq)
	}
	return nil
}

// Two relays on one PostgreSQL store while writers append: every event is
// delivered exactly once (nothing fails here), none by both relays at
// once, each record's events in Seq order.
func TestTwoRelaysShareAPostgreSQLOutbox(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ids := crmtest.NewIDs()
	sink := &inFlightSink{inFlight: map[crm.ID]bool{}, count: map[crm.ID]int{}, order: map[crm.Ref][]int64{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var relays sync.WaitGroup
	for i := range 2 {
		r, err := relay.New(s, sink, &relay.Config{Owner: fmt.Sprintf("relay-%d", i), Batch: 50, Idle: 5 * time.Millisecond})
		require.NoError(t, err)
		relays.Go(func() { _ = r.Run(ctx) })
	}
	const writers, perWriter = 4, 100
	// Each writer changes its own records, as changes of one record are
	// serialised by its row (Seq order per record is commit order only
	// then; see crm.Event.Seq).
	const perWriterSubjects = 5
	subjects := make([]crm.Ref, writers*perWriterSubjects)
	for i := range subjects {
		subjects[i] = crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}
	}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				err := s.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
					return tx.Events().Append(ctx, &crm.Event{ID: ids.NewID(), Type: crm.EventCustomerUpdated,
						Subject: subjects[w*perWriterSubjects+i%perWriterSubjects], OccurredAt: time.Now()})
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	require.Eventually(t, func() bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return len(sink.count) == writers*perWriter
	}, 60*time.Second, 10*time.Millisecond)
	cancel()
	relays.Wait()
	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.Zero(t, sink.twice, "no event in flight twice")
	for id, n := range sink.count {
		require.Equal(t, 1, n, "event %s delivered %d times", id, n)
	}
	for ref, seqs := range sink.order {
		for i := 1; i < len(seqs); i++ {
			require.Less(t, seqs[i-1], seqs[i], "events of %v out of order", ref)
		}
	}
}
