package permission_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/stretchr/testify/require"
)

type memAudit struct {
	mu      sync.Mutex
	changes []permission.PolicyChange
	fail    error
}

func (m *memAudit) RecordPolicyChange(_ context.Context, c permission.PolicyChange) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.changes = append(m.changes, c)
	return nil
}

func TestRegistryAuditsEveryChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	audit := &memAudit{}
	doc, err := permission.ParseDocument(policyJSON(t))
	require.NoError(t, err)
	admin := id(0x9000)
	reg, err := permission.NewRegistry(ctx, admin, doc, departments(), &permission.RegistryConfig{Audit: audit, Clock: clock})
	require.NoError(t, err)
	require.Len(t, audit.changes, 1)
	require.Nil(t, audit.changes[0].Before)
	require.Equal(t, admin, audit.changes[0].Actor)
	require.True(t, audit.changes[0].DepartmentsChanged)

	// Management may no longer see tickets.
	require.NoError(t, reg.Authorize(ctx, max, permission.ActionView, &svcTicket))
	next := doc.Clone()
	next.Roles[6].Rules = next.Roles[6].Rules[:3]
	clock.Advance(time.Hour)
	p, err := reg.Replace(ctx, admin, next, "tickets are service's business")
	require.NoError(t, err)
	require.Same(t, p, reg.Policy())
	require.ErrorIs(t, reg.Authorize(ctx, max, permission.ActionView, &svcTicket), crm.ErrPermissionDenied)
	require.Len(t, audit.changes, 2)
	c := audit.changes[1]
	require.Equal(t, clock.Now(), c.At)
	require.Len(t, c.Before.Roles[6].Rules, 4)
	require.Len(t, c.After.Roles[6].Rules, 3)
	require.Equal(t, "tickets are service's business", c.Note)
	require.False(t, c.DepartmentsChanged)

	t.Run("AnInvalidDocumentChangesNothing", func(t *testing.T) {
		bad := next.Clone()
		bad.Roles[0].Rules[0].Scope = "galaxy"
		_, err := reg.Replace(ctx, admin, bad, "")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.Same(t, p, reg.Policy())
	})
	t.Run("AFailingAuditSinkChangesNothing", func(t *testing.T) {
		audit.mu.Lock()
		audit.fail = errors.New("disk full")
		audit.mu.Unlock()
		defer func() { audit.mu.Lock(); audit.fail = nil; audit.mu.Unlock() }()
		_, err := reg.Replace(ctx, admin, doc, "")
		require.ErrorContains(t, err, "disk full")
		require.Same(t, p, reg.Policy())
	})
	t.Run("AChangeNeedsAnActor", func(t *testing.T) {
		_, err := reg.Replace(ctx, crm.NilID, doc, "")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
	t.Run("ReorganisingRecompilesTheDocument", func(t *testing.T) {
		depts := departments()
		depts[4].ParentID = marketing // Sales East moves below Marketing
		p2, err := reg.Reorganise(ctx, admin, depts, "east joins marketing")
		require.NoError(t, err)
		sue := p2.Subject(sue)
		d := p2.Check(&sue, permission.ActionView, &samCust)
		require.False(t, d.Allowed, d.Reason())
		require.True(t, audit.changes[len(audit.changes)-1].DepartmentsChanged)
	})
	t.Run("ACancelledContextChangesNothing", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		before := reg.Policy()
		_, err := reg.Replace(cctx, admin, doc, "")
		require.ErrorIs(t, err, context.Canceled)
		require.Same(t, before, reg.Policy())
	})
}

type recordingSink struct {
	mu     sync.Mutex
	events []permission.DecisionEvent
}

func (r *recordingSink) Record(e permission.DecisionEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func TestDecisionSinkReceivesEveryDecision(t *testing.T) {
	t.Parallel()
	sink := &recordingSink{}
	p := loadPolicy(t, &permission.Config{DecisionSink: sink})
	s := p.Subject(mia)
	p.Check(&s, permission.ActionEdit, &salesLead)
	p.Check(&s, permission.ActionView, &salesLead)
	p.Check(nil, permission.ActionView, nil)
	require.Len(t, sink.events, 3)
	e := sink.events[0]
	require.Equal(t, mia.ID, e.UserID)
	require.Equal(t, marketing, e.DepartmentID)
	require.Equal(t, crm.TypeLead, e.RecordType)
	require.Equal(t, sam.ID, e.OwnerID)
	require.Equal(t, salesEast, e.ResourceDepartmentID)
	require.False(t, e.Decision.Allowed)
	require.Equal(t, "marketing.keep_off_sales", e.Decision.Rule())
	require.True(t, sink.events[1].Decision.Allowed)
	require.False(t, sink.events[2].Decision.Allowed)
}
