package remind_test

import (
	"context"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/store/memstore"
)

// BenchmarkSweepMemstore fires 1,000 due task reminders on memstore per
// iteration; each iteration sweeps a store loaded before the timer runs.
func BenchmarkSweepMemstore(b *testing.B) {
	const n = 1000
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	now := clock.Now()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		store := memstore.New(&memstore.Config{Clock: clock})
		for i := range n {
			at := now.Add(-time.Duration(i) * time.Second)
			if err := store.Tasks().Create(ctx, crmtest.Task(ids, crm.Ref{Type: crm.TypeLead, ID: ids.NewID()}, ids.NewID(),
				func(t *crm.Task) { t.RemindAt, t.DueAt = &at, now.Add(time.Hour) })); err != nil {
				b.Fatal(err)
			}
		}
		s, err := remind.New(store, &remind.Config{Clock: clock, IDs: ids, Kinds: []remind.Kind{remind.KindTaskReminder}})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := s.Sweep(ctx, now, n)
		if err != nil || res.Total() != n {
			b.Fatalf("fired %d, err %v", res.Total(), err)
		}
	}
}
