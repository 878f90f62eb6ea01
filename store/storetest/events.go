package storetest

import (
	"context"
	"flag"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/workflow"
)

// requireEventsDecode registers a check, run when the test ends (before
// the store's own cleanup, registered earlier), that every event the
// services wrote in the test decodes strictly into its type's payload
// struct ([crmkit.DecodeEvent]); it records the types in seen (when not
// nil). A test that appends events of its own making sets *raw.
func requireEventsDecode(t *testing.T, store crm.Store, raw *bool, seen *eventsSeen) {
	t.Cleanup(func() {
		if !*raw && !t.Failed() {
			checkEventsDecode(t, store, seen)
		}
	})
}

func checkEventsDecode(t *testing.T, store crm.Store, seen *eventsSeen) {
	ctx := context.Background()
	for {
		// The test is over: acknowledging pages through the outbox.
		evs, err := store.Outbox().Pending(ctx, 1000)
		require.NoError(t, err)
		if len(evs) == 0 {
			return
		}
		ids := make([]crm.ID, len(evs))
		for i, ev := range evs {
			_, err := crmkit.DecodeEvent(ev)
			require.NoError(t, err, "event %s of type %s: %s", ev.ID, ev.Type, ev.Payload)
			ids[i] = ev.ID
		}
		if seen != nil {
			seen.add(evs)
		}
		require.NoError(t, store.Outbox().Ack(ctx, ids...))
	}
}

// eventsSeen is the set of event types the suite's services wrote.
type eventsSeen struct {
	mu    sync.Mutex
	types map[crm.EventType]int
}

func (s *eventsSeen) add(evs []crm.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		s.types[ev.Type]++
	}
}

// notDrivenBySuite are the event types the suite does not make crmkit
// write: reserved ones crmkit never writes, and those whose operations
// the suite leaves to the domain packages' own tests (the root package's
// TestEventsTheConformanceSuiteDoesNotDriveDecode drives them on memstore,
// lead's TestServiceScoreLead decodes lead.regraded).
var notDrivenBySuite = []crm.EventType{
	crm.EventActivityRecorded,
	lead.EventLeadContacted, lead.EventLeadQualified, lead.EventLeadRegraded, pool.EventAssigned, pool.EventMoved,
	workflow.EventApprovalRejected, workflow.EventApprovalSentBack, workflow.EventApprovalRecalled,
	workflow.EventApprovalDelegated, workflow.EventApprovalReassigned, workflow.EventApprovalCommented,
	workflow.EventApprovalEscalated,
}

// requireAll checks, after a whole run of the suite with every feature and
// no -run filter, that every type of [crmkit.EventTypes] was written and
// decoded at least once. Change events ([crm.EventType.IsChange]) are one
// payload type for every record type; the history package's tests write
// and decode them for each.
func (s *eventsSeen) requireAll(t *testing.T, f Features) {
	if t.Failed() || !(f.Pools && f.Workflow && f.Leads && f.Dedupe) {
		return
	}
	if run := flag.Lookup("test.run"); run == nil || run.Value.String() != "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var missing []crm.EventType
	for _, typ := range crmkit.EventTypes() {
		if typ == remind.EventFired && !f.Reminders || typ == pipeline.EventStageChanged && !f.Pipelines {
			continue
		}
		if s.types[typ] == 0 && !slices.Contains(notDrivenBySuite, typ) && !typ.IsChange() {
			missing = append(missing, typ)
		}
	}
	require.Empty(t, missing, "event types no conformance test made crmkit write")
}
