package relay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// A Sink delivers events to a broker, a webhook or any other consumer.
//
// Deliver gets a batch in Seq order, and must deliver the events of one
// record (one [crm.Event.Subject]) in that order. It returns nil when the
// sink has confirmed every event, a [*Failed] naming the events it could
// not deliver (the others count as delivered), or any other error when it
// delivered none. An error wrapping [ErrPermanent] parks its events: they
// are not retried until replayed. Deliver must return when ctx ends.
//
// Delivery is at least once: an event may reach the sink again after a
// relay stops between delivering and acknowledging, so consumers
// de-duplicate by [crm.Event.ID].
type Sink interface {
	Deliver(ctx context.Context, events []crm.Event) error
}

// ErrPermanent marks a delivery failure that retrying cannot fix, such as
// a webhook answering 400: the event is parked.
var ErrPermanent = errors.New("permanent delivery failure")

// Permanent wraps err so that it matches [ErrPermanent].
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err}
}

type permanent struct{ err error }

func (p *permanent) Error() string        { return p.err.Error() }
func (p *permanent) Unwrap() error        { return p.err }
func (p *permanent) Is(target error) bool { return target == ErrPermanent }

// Failed reports the events of a batch that a sink could not deliver, by
// their index in the batch.
type Failed struct {
	Errs map[int]error
}

// Fail records that the event at index i failed with err.
func (f *Failed) Fail(i int, err error) {
	if f.Errs == nil {
		f.Errs = make(map[int]error)
	}
	f.Errs[i] = err
}

// Err returns f when it holds failures, else nil.
func (f *Failed) Err() error {
	if f == nil || len(f.Errs) == 0 {
		return nil
	}
	return f
}

// Error lists the failures, the first few in index order.
func (f *Failed) Error() string {
	idx := make([]int, 0, len(f.Errs))
	for i := range f.Errs {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var b strings.Builder
	fmt.Fprintf(&b, "%d events not delivered", len(idx))
	for k, i := range idx {
		if k == 3 {
			b.WriteString("; …")
			break
		}
		fmt.Fprintf(&b, "; [%d]: %v", i, f.Errs[i])
	}
	return b.String()
}
