package relay

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// Fanout is a [Sink] that delivers each batch to several sinks at once,
// such as a broker and a webhook. An event counts as delivered only when
// every sink confirmed it; an event any sink failed is reported failed
// (in a [*Failed]) with the failures of every sink that failed it, and
// that error matches [ErrPermanent] when one of them does, so the relay
// parks it.
//
// The relay retries a failed event, and [Relay.Replay] returns a parked
// one, by sending it again to every sink, including those that had
// already confirmed it: delivery is at least once for each sink, and its
// consumers de-duplicate by the event ID (JetStream by the message ID
// within its duplicate window, webhook receivers by [HeaderID]).
//
// The sinks get the batch concurrently, each its own copy of the slice,
// and Deliver returns when every sink has returned: as the [Sink] contract
// requires each sink to return when ctx ends, so does Deliver, and it
// leaves no goroutine behind. Each sink keeps the order of a record's
// events on its own.
//
// A Fanout is safe for concurrent use when its sinks are.
type Fanout struct {
	sinks []Sink
}

var _ Sink = (*Fanout)(nil)

// NewFanout returns a sink delivering to every one of sinks; it needs at
// least one, and none nil ([crm.ErrInvalidArgument] naming "sinks" or
// "sinks[i]").
func NewFanout(sinks ...Sink) (*Fanout, error) {
	var probs crm.Problems
	if len(sinks) == 0 {
		probs.Add("sinks", "at least one is required")
	}
	for i, s := range sinks {
		if s == nil {
			probs.Add(fmt.Sprintf("sinks[%d]", i), "is nil")
		}
	}
	if err := probs.Err(); err != nil {
		return nil, fmt.Errorf("relay: fanout: %w", err)
	}
	return &Fanout{sinks: slices.Clone(sinks)}, nil
}

// Deliver implements [Sink].
func (f *Fanout) Deliver(ctx context.Context, events []crm.Event) error {
	if len(events) == 0 {
		return nil
	}
	results := make([]error, len(f.sinks))
	var wg sync.WaitGroup
	for k, s := range f.sinks {
		batch := slices.Clone(events) // a sink may reorder or trim its slice
		wg.Go(func() { results[k] = s.Deliver(ctx, batch) })
	}
	wg.Wait()

	perEvent := make([][]error, len(events))
	for k, err := range results {
		var failed *Failed
		switch {
		case err == nil:
		case errors.As(err, &failed):
			for i, e := range failed.Errs {
				if i >= 0 && i < len(events) && e != nil {
					perEvent[i] = append(perEvent[i], fmt.Errorf("sink %d: %w", k, e))
				}
			}
		default:
			for i := range events {
				perEvent[i] = append(perEvent[i], fmt.Errorf("sink %d: %w", k, err))
			}
		}
	}
	var out Failed
	for i, errs := range perEvent {
		switch len(errs) {
		case 0:
		case 1:
			out.Fail(i, errs[0])
		default:
			out.Fail(i, sinkErrors(errs))
		}
	}
	return out.Err()
}

// sinkErrors are the failures of one event at several sinks, on one line
// (the relay stores the text with the event); [errors.Is] finds each.
type sinkErrors []error

func (es sinkErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (es sinkErrors) Unwrap() []error { return es }
