package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// This file implements the storage ports of package workflow
// ([workflow.Tx]): routing cursors and loads, SLA timers, approval
// definitions and instances. Units of work are serialised by the store's
// lock, which gives compare-and-swap and ClaimDue's "skip what another unit
// of work holds" for free: no other unit of work runs at the same time.

var (
	_ workflow.Tx                = tx{}
	_ workflow.ApprovalDeadlines = instanceRepo{}
	_ workflow.ApprovalInbox     = instanceRepo{}
)

// routeKey names a rule-set-scoped counter or cursor of one tenant.
type routeKey struct {
	tenant, ruleSet, name string // name: the rule of a cursor
	user                  crm.ID
	day                   string
}

type defKey struct {
	tenant, key string
	version     int
}

type pendingKey struct {
	tenant string
	record crm.Ref
}

// workflowState holds the workflow package's tables; guarded by Store.mu.
// Definitions and instances are kept as JSON, so nothing a caller holds
// aliases them and they round-trip exactly as on PostgreSQL.
type workflowState struct {
	cursors   map[routeKey]workflow.Cursor
	loads     map[routeKey]int
	daily     map[routeKey]int
	timers    map[crm.ID]*workflow.Timer
	defs      map[defKey][]byte
	latest    map[defKey]int // version 0 key -> highest version
	instances map[crm.ID][]byte
	tenants   map[crm.ID]string // instance -> tenant
	pending   map[pendingKey]crm.ID
	// byRecord lists each record's requests (a request's record never
	// changes), for workflow.ApprovalRecords.
	byRecord map[crm.ID][]crm.ID
	// due holds Instance.NextDueAt of the requests that have one, so
	// DueInstances decodes only what it returns.
	due map[crm.ID]time.Time
	// handoffs holds hand-off states as JSON.
	handoffs map[handoffKey][]byte
	// inbox holds, per tenant and approver, the requests waiting on them
	// in inbox order; waiting what each request has in it (inbox.go).
	inbox   map[inboxKey]*queueIndex
	waiting map[crm.ID]waiting
}

type handoffKey struct {
	tenant, machine string
	record          crm.Ref
}

func newWorkflowState() *workflowState {
	return &workflowState{
		cursors:   make(map[routeKey]workflow.Cursor),
		loads:     make(map[routeKey]int),
		daily:     make(map[routeKey]int),
		timers:    make(map[crm.ID]*workflow.Timer),
		defs:      make(map[defKey][]byte),
		latest:    make(map[defKey]int),
		instances: make(map[crm.ID][]byte),
		tenants:   make(map[crm.ID]string),
		pending:   make(map[pendingKey]crm.ID),
		byRecord:  make(map[crm.ID][]crm.ID),
		due:       make(map[crm.ID]time.Time),
		handoffs:  make(map[handoffKey][]byte),
		inbox:     make(map[inboxKey]*queueIndex),
		waiting:   make(map[crm.ID]waiting),
	}
}

func (t tx) workflowState() *workflowState { return extension(t.s, "workflow", newWorkflowState) }

// Routing implements [workflow.Tx].
func (t tx) Routing() workflow.RoutingStore { return routingRepo{t} }

// Timers implements [workflow.Tx].
func (t tx) Timers() workflow.TimerStore { return timerRepo{t} }

// ApprovalDefinitions implements [workflow.Tx].
func (t tx) ApprovalDefinitions() workflow.ApprovalDefinitions { return definitionRepo{t} }

// ApprovalInstances implements [workflow.Tx].
func (t tx) ApprovalInstances() workflow.ApprovalInstances { return instanceRepo{t} }

// Handoffs implements [workflow.Tx].
func (t tx) Handoffs() workflow.HandoffStore { return handoffRepo{t} }

type routingRepo struct{ tx tx }

func (r routingRepo) LoadRouting(ctx context.Context, ruleSet, day string, st *workflow.State) error {
	if st == nil {
		return crm.Invalid("state", "is required")
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return fmt.Errorf("memstore: load routing %s: %w", ruleSet, err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	for _, rule := range st.Rules() {
		if c, ok := ws.cursors[routeKey{tenant: tenant, ruleSet: ruleSet, name: rule}]; ok {
			if err := st.SetCursor(rule, c); err != nil {
				return err
			}
		}
	}
	for _, u := range st.Members() {
		k := routeKey{tenant: tenant, ruleSet: ruleSet, user: u}
		open := ws.loads[k]
		k.day = day
		st.SetLoad(u, open, ws.daily[k])
	}
	return nil
}

func (r routingRepo) CommitRouting(ctx context.Context, c workflow.RoutingCommit) error {
	if c.RuleSet == "" || c.UserID == crm.NilID {
		return crm.Invalid("commit", "a rule set and a user are required")
	}
	if c.Capacity < 0 || c.DailyQuota < 0 {
		return crm.Invalid("commit", "capacity and daily quota must not be negative")
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: commit routing %s: %w", c.RuleSet, err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	ck := routeKey{tenant: tenant, ruleSet: c.RuleSet, name: c.Rule}
	oldCursor, hadCursor := ws.cursors[ck]
	if c.CursorMoved && oldCursor.Version != c.PrevCursor.Version {
		return fmt.Errorf("memstore: commit routing %s: cursor of rule %s is at version %d, not %d: %w", c.RuleSet, c.Rule, oldCursor.Version, c.PrevCursor.Version, crm.ErrConflict)
	}
	lk := routeKey{tenant: tenant, ruleSet: c.RuleSet, user: c.UserID}
	dk := lk
	dk.day = c.Day
	open, today := ws.loads[lk], ws.daily[dk]
	if c.Capacity > 0 && open >= c.Capacity {
		return fmt.Errorf("memstore: commit routing %s: user %s holds %d of %d: %w", c.RuleSet, c.UserID, open, c.Capacity, crm.ErrConflict)
	}
	if c.DailyQuota > 0 && today >= c.DailyQuota {
		return fmt.Errorf("memstore: commit routing %s: user %s got %d of %d today: %w", c.RuleSet, c.UserID, today, c.DailyQuota, crm.ErrConflict)
	}
	if c.CursorMoved {
		ws.cursors[ck] = c.Cursor
	}
	ws.loads[lk], ws.daily[dk] = open+1, today+1
	r.tx.onUndo(func() {
		if c.CursorMoved {
			if hadCursor {
				ws.cursors[ck] = oldCursor
			} else {
				delete(ws.cursors, ck)
			}
		}
		ws.loads[lk], ws.daily[dk] = open, today
	})
	return nil
}

func (r routingRepo) ReleaseLoad(ctx context.Context, ruleSet string, user crm.ID) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: release load %s: %w", ruleSet, err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	k := routeKey{tenant: crm.TenantFrom(ctx), ruleSet: ruleSet, user: user}
	old := ws.loads[k]
	if old == 0 {
		return nil
	}
	ws.loads[k] = old - 1
	r.tx.onUndo(func() { ws.loads[k] = old })
	return nil
}

type timerRepo struct{ tx tx }

func storedTimer(t *workflow.Timer) *workflow.Timer {
	c := *t
	c.RunningSince, c.WarnAt, c.DueAt = crm.StorageTime(c.RunningSince), crm.StorageTime(c.WarnAt), crm.StorageTime(c.DueAt)
	return &c
}

func (r timerRepo) CreateTimer(ctx context.Context, t *workflow.Timer) error {
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: create timer %s: %w", t.ID, err)
	}
	defer unlock()
	m := crm.Meta{TenantID: t.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return err
	}
	ws := r.tx.workflowState()
	if _, dup := ws.timers[t.ID]; dup {
		return fmt.Errorf("memstore: create timer %s: %w", t.ID, crm.ErrAlreadyExists)
	}
	c := storedTimer(t)
	c.TenantID, c.Version = m.TenantID, 1
	ws.timers[c.ID] = c
	r.tx.onUndo(func() { delete(ws.timers, c.ID) })
	*t = *c
	return nil
}

func (r timerRepo) GetTimer(ctx context.Context, id crm.ID) (*workflow.Timer, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get timer %s: %w", id, err)
	}
	defer unlock()
	t, ok := r.tx.workflowState().timers[id]
	if !ok || t.TenantID != crm.TenantFrom(ctx) {
		return nil, fmt.Errorf("memstore: get timer %s: %w", id, crm.ErrNotFound)
	}
	c := *t
	return &c, nil
}

func (r timerRepo) UpdateTimer(ctx context.Context, t *workflow.Timer) error {
	if t == nil {
		return crm.Invalid("timer", "is required")
	}
	return r.UpdateTimers(ctx, []*workflow.Timer{t})
}

func (r timerRepo) UpdateTimers(ctx context.Context, ts []*workflow.Timer) error {
	for i, t := range ts {
		if t == nil {
			return crm.Invalid(fmt.Sprintf("timers[%d]", i), "is nil")
		}
		if err := t.Validate(); err != nil {
			return err
		}
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: update timers: %w", err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	olds := make([]*workflow.Timer, len(ts))
	for i, t := range ts {
		old, ok := ws.timers[t.ID]
		if !ok || old.TenantID != tenant {
			return fmt.Errorf("memstore: update timer %s: %w", t.ID, crm.ErrNotFound)
		}
		if old.Version != t.Version || slices.Contains(olds[:i], old) {
			return fmt.Errorf("memstore: update timer %s: version %d is stale, stored version is %d: %w", t.ID, t.Version, old.Version, crm.ErrConflict)
		}
		olds[i] = old
	}
	for i, t := range ts {
		c := storedTimer(t)
		c.TenantID, c.Version = tenant, olds[i].Version+1
		ws.timers[c.ID] = c
		*t = *c
	}
	r.tx.onUndo(func() {
		for _, old := range olds {
			ws.timers[old.ID] = old
		}
	})
	return nil
}

func (r timerRepo) ClaimDue(ctx context.Context, now time.Time, limit int) ([]*workflow.Timer, error) {
	if limit < 1 || limit > workflow.MaxTickLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", workflow.MaxTickLimit, limit)
	}
	// A write lock: claims belong to the unit of work that made them.
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: claim due timers: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	var due []*workflow.Timer
	for _, t := range r.tx.workflowState().timers {
		if next := t.NextAt(); t.TenantID == tenant && !next.IsZero() && !now.Before(next) {
			due = append(due, t)
		}
	}
	slices.SortFunc(due, func(a, b *workflow.Timer) int {
		if c := a.NextAt().Compare(b.NextAt()); c != 0 {
			return c
		}
		return compareID(a.ID, b.ID)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]*workflow.Timer, len(due))
	for i, t := range due {
		c := *t
		out[i] = &c
	}
	return out, nil
}

type definitionRepo struct{ tx tx }

func (r definitionRepo) GetDefinition(ctx context.Context, key string, version int) (*workflow.DefinitionSpec, error) {
	if version < 0 {
		return nil, crm.Invalid("version", "must not be negative")
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get approval definition %s: %w", key, err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	if version == 0 {
		version = ws.latest[defKey{tenant: tenant, key: key}]
	}
	b, ok := ws.defs[defKey{tenant: tenant, key: key, version: version}]
	if !ok {
		return nil, fmt.Errorf("memstore: get approval definition %s version %d: %w", key, version, crm.ErrNotFound)
	}
	var s workflow.DefinitionSpec
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("memstore: decode approval definition %s: %w", key, err)
	}
	return &s, nil
}

func (r definitionRepo) CreateDefinition(ctx context.Context, spec *workflow.DefinitionSpec) error {
	if spec == nil {
		return crm.Invalid("definition", "is required")
	}
	if err := spec.CheckStorable(); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return fmt.Errorf("memstore: encode approval definition %s: %w", spec.Key, err)
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: create approval definition %s: %w", spec.Key, err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	k := defKey{tenant: tenant, key: spec.Key, version: spec.Version}
	if _, dup := ws.defs[k]; dup {
		return fmt.Errorf("memstore: create approval definition %s version %d: %w", spec.Key, spec.Version, crm.ErrAlreadyExists)
	}
	lk := defKey{tenant: tenant, key: spec.Key}
	prev := ws.latest[lk]
	ws.defs[k] = b
	if spec.Version > prev {
		ws.latest[lk] = spec.Version
	}
	r.tx.onUndo(func() {
		delete(ws.defs, k)
		if prev == 0 {
			delete(ws.latest, lk)
		} else {
			ws.latest[lk] = prev
		}
	})
	return nil
}

type instanceRepo struct{ tx tx }

func decodeInstance(b []byte) (*workflow.Instance, error) {
	var in workflow.Instance
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("memstore: decode approval %w", err)
	}
	return &in, nil
}

func (r instanceRepo) GetInstance(ctx context.Context, id crm.ID) (*workflow.Instance, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get approval %s: %w", id, err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	b, ok := ws.instances[id]
	if !ok || ws.tenants[id] != crm.TenantFrom(ctx) {
		return nil, fmt.Errorf("memstore: get approval %s: %w", id, crm.ErrNotFound)
	}
	return decodeInstance(b)
}

func (r instanceRepo) CreateInstance(ctx context.Context, in *workflow.Instance) error {
	if in == nil {
		return crm.Invalid("instance", "is required")
	}
	m := crm.Meta{TenantID: in.TenantID}
	if err := crm.ApplyTenant(ctx, &m); err != nil {
		return err
	}
	if err := in.CheckStorable(); err != nil {
		return err
	}
	c := in.Clone()
	c.TenantID, c.Version = m.TenantID, 1
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("memstore: encode approval %s: %w", in.ID, err)
	}
	boxed, err := inboxCopy(c, b)
	if err != nil {
		return err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: create approval %s: %w", in.ID, err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	if _, dup := ws.instances[c.ID]; dup {
		return fmt.Errorf("memstore: create approval %s: %w", in.ID, crm.ErrAlreadyExists)
	}
	pk := pendingKey{tenant: c.TenantID, record: c.Record}
	pending := c.Status == workflow.ApprovalPending
	if other, busy := ws.pending[pk]; pending && busy {
		return fmt.Errorf("memstore: create approval %s: %s %s is already under approval %s: %w", in.ID, c.Record.Type, c.Record.ID, other, crm.ErrAlreadyExists)
	}
	ws.instances[c.ID], ws.tenants[c.ID] = b, c.TenantID
	if pending {
		ws.pending[pk] = c.ID
	}
	ws.byRecord[c.Record.ID] = append(ws.byRecord[c.Record.ID], c.ID)
	ws.setDue(c)
	ws.setInbox(c.TenantID, c.ID, boxed)
	r.tx.onUndo(func() {
		setOrDelete(ws.byRecord, c.Record.ID, slices.DeleteFunc(ws.byRecord[c.Record.ID], func(id crm.ID) bool { return id == c.ID }))
		delete(ws.instances, c.ID)
		delete(ws.tenants, c.ID)
		delete(ws.due, c.ID)
		ws.unsetInbox(c.ID)
		if pending {
			delete(ws.pending, pk)
		}
	})
	in.TenantID, in.Version = c.TenantID, 1
	return nil
}

func (r instanceRepo) UpdateInstance(ctx context.Context, in *workflow.Instance) error {
	if in == nil {
		return crm.Invalid("instance", "is required")
	}
	return r.UpdateInstances(ctx, []*workflow.Instance{in})
}

func (r instanceRepo) UpdateInstances(ctx context.Context, ins []*workflow.Instance) error {
	for i, in := range ins {
		if in == nil {
			return crm.Invalid(fmt.Sprintf("instances[%d]", i), "is nil")
		}
		if err := in.CheckStorable(); err != nil {
			return err
		}
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: update approvals: %w", err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	// Each update sees the ones before it (a request listed twice is
	// stale the second time); a failure undoes those already written.
	undos := make([]func(), 0, len(ins))
	versions := make([]int64, len(ins))
	for i, in := range ins {
		undo, err := ws.updateInstance(tenant, in)
		if err != nil {
			for j := len(undos) - 1; j >= 0; j-- {
				undos[j]()
			}
			return err
		}
		undos, versions[i] = append(undos, undo), in.Version+1
	}
	r.tx.onUndo(func() {
		for j := len(undos) - 1; j >= 0; j-- {
			undos[j]()
		}
	})
	for i, in := range ins {
		in.TenantID, in.Version = tenant, versions[i]
	}
	return nil
}

// updateInstance stores in over the tenant's stored request (compare-and-
// swap on Version) and returns how to undo it. Callers hold the lock.
func (ws *workflowState) updateInstance(tenant string, in *workflow.Instance) (undo func(), err error) {
	oldJSON, ok := ws.instances[in.ID]
	if !ok || ws.tenants[in.ID] != tenant {
		return nil, fmt.Errorf("memstore: update approval %s: %w", in.ID, crm.ErrNotFound)
	}
	old, err := decodeInstance(oldJSON)
	if err != nil {
		return nil, err
	}
	if in.Version != old.Version {
		return nil, fmt.Errorf("memstore: update approval %s: version %d is stale, stored version is %d: %w", in.ID, in.Version, old.Version, crm.ErrConflict)
	}
	if err := in.CheckImmutable(old); err != nil {
		return nil, err
	}
	c := in.Clone()
	c.TenantID, c.Version = tenant, old.Version+1
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("memstore: encode approval %s: %w", in.ID, err)
	}
	pk := pendingKey{tenant: tenant, record: c.Record}
	wasPending, isPending := old.Status == workflow.ApprovalPending, c.Status == workflow.ApprovalPending
	if isPending && !wasPending {
		if other, busy := ws.pending[pk]; busy {
			return nil, fmt.Errorf("memstore: update approval %s: %s %s is already under approval %s: %w", in.ID, c.Record.Type, c.Record.ID, other, crm.ErrAlreadyExists)
		}
	}
	boxed, err := inboxCopy(c, b)
	if err != nil {
		return nil, err
	}
	ws.instances[c.ID] = b
	switch {
	case wasPending && !isPending:
		delete(ws.pending, pk)
	case isPending && !wasPending:
		ws.pending[pk] = c.ID
	}
	ws.setDue(c)
	ws.setInbox(tenant, c.ID, boxed)
	return func() {
		ws.instances[c.ID] = oldJSON
		ws.setDue(old)
		ws.setInbox(tenant, c.ID, old) // decoded from oldJSON, and nobody else's
		switch {
		case wasPending && !isPending:
			ws.pending[pk] = c.ID
		case isPending && !wasPending:
			delete(ws.pending, pk)
		}
	}, nil
}

func (r instanceRepo) PendingInstance(ctx context.Context, record crm.Ref) (*workflow.Instance, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: pending approval of %s %s: %w", record.Type, record.ID, err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	id, ok := ws.pending[pendingKey{tenant: crm.TenantFrom(ctx), record: record}]
	if !ok {
		return nil, fmt.Errorf("memstore: pending approval of %s %s: %w", record.Type, record.ID, crm.ErrNotFound)
	}
	return decodeInstance(ws.instances[id])
}

// setDue records the next due time of in, or forgets it when it has none.
func (ws *workflowState) setDue(in *workflow.Instance) {
	if next := in.NextDueAt(); !next.IsZero() {
		ws.due[in.ID] = next
	} else {
		delete(ws.due, in.ID)
	}
}

func (r instanceRepo) DueInstances(ctx context.Context, now time.Time, limit int) ([]*workflow.Instance, error) {
	if limit < 1 || limit > workflow.MaxTickLimit {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", workflow.MaxTickLimit, limit)
	}
	// A write lock: claims belong to the unit of work that made them.
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: due approvals: %w", err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	type dueRef struct {
		id  crm.ID
		due time.Time
	}
	var due []dueRef
	for id, at := range ws.due {
		if !now.Before(at) && ws.tenants[id] == tenant {
			due = append(due, dueRef{id, at})
		}
	}
	slices.SortFunc(due, func(a, b dueRef) int {
		if c := a.due.Compare(b.due); c != 0 {
			return c
		}
		return compareID(a.id, b.id)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	out := make([]*workflow.Instance, len(due))
	for i, d := range due {
		if out[i], err = decodeInstance(ws.instances[d.id]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type handoffRepo struct{ tx tx }

func (r handoffRepo) GetHandoff(ctx context.Context, machine string, record crm.Ref) (*workflow.HandoffState, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: get hand-off state of %s %s: %w", record.Type, record.ID, err)
	}
	defer unlock()
	b, ok := r.tx.workflowState().handoffs[handoffKey{tenant: crm.TenantFrom(ctx), machine: machine, record: record}]
	if !ok {
		return nil, fmt.Errorf("memstore: get hand-off state of %s %s in %s: %w", record.Type, record.ID, machine, crm.ErrNotFound)
	}
	var st workflow.HandoffState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("memstore: decode hand-off state: %w", err)
	}
	return &st, nil
}

func (r handoffRepo) PutHandoff(ctx context.Context, st *workflow.HandoffState) error {
	if st == nil {
		return crm.Invalid("state", "is required")
	}
	if err := st.CheckStorable(); err != nil {
		return err
	}
	op := fmt.Sprintf("store hand-off state of %s %s in %s", st.Record.Type, st.Record.ID, st.Machine)
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	defer unlock()
	ws := r.tx.workflowState()
	k := handoffKey{tenant: crm.TenantFrom(ctx), machine: st.Machine, record: st.Record}
	old, exists := ws.handoffs[k]
	switch {
	case st.Version == 0 && exists:
		return fmt.Errorf("memstore: %s: %w", op, crm.ErrAlreadyExists)
	case st.Version > 0 && !exists:
		return fmt.Errorf("memstore: %s: %w", op, crm.ErrNotFound)
	case st.Version > 0:
		var cur workflow.HandoffState
		if err := json.Unmarshal(old, &cur); err != nil {
			return fmt.Errorf("memstore: decode hand-off state: %w", err)
		}
		if cur.Version != st.Version {
			return fmt.Errorf("memstore: %s: stored version %d, not %d: %w", op, cur.Version, st.Version, crm.ErrConflict)
		}
	}
	c := st.Clone()
	c.Version, c.UpdatedAt = st.Version+1, crm.StorageTime(r.tx.s.clock.Now())
	b, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("memstore: encode hand-off state: %w", err)
	}
	ws.handoffs[k] = b
	r.tx.onUndo(func() {
		if exists {
			ws.handoffs[k] = old
		} else {
			delete(ws.handoffs, k)
		}
	})
	st.Version, st.UpdatedAt = c.Version, c.UpdatedAt
	return nil
}
