package memstore

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/workflow"
)

// This file implements the storage port of package remind. Units of work
// hold the store's lock from start to end, so listing due tasks "skips
// what another unit of work holds" by never running beside one, and a
// firing key is stored once.

var _ remind.Tx = tx{}

// firingKey is the unique key of a stored firing.
type firingKey struct {
	tenant  string
	kind    remind.Kind
	subject crm.ID
	at      int64 // UnixMicro
	part    string
}

// remindState holds the fired reminders; guarded by Store.mu.
type remindState struct {
	firings map[firingKey]remind.Firing
}

func (t tx) remindState() *remindState {
	return extension(t.s, "remind", func() *remindState {
		return &remindState{firings: make(map[firingKey]remind.Firing)}
	})
}

// Reminders implements [remind.Tx].
func (t tx) Reminders() remind.Store { return reminderRepo{t} }

// Reminders returns the autocommit reminder port.
func (s *Store) Reminders() remind.Store { return tx{s: s}.Reminders() }

type reminderRepo struct{ tx tx }

func (r reminderRepo) DueTasks(ctx context.Context, q remind.TaskQuery) ([]remind.Due, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: due task reminders: %w", err)
	}
	defer unlock()
	tenant, rs := crm.TenantFrom(ctx), r.tx.remindState()
	var out []remind.Due
	for _, t := range r.tx.s.tasks.rows {
		if t.TenantID != tenant {
			continue
		}
		at, ok := q.Time(t)
		if !ok {
			continue
		}
		if _, fired := rs.firings[firingKey{tenant, q.Kind, t.ID, at.UnixMicro(), ""}]; fired {
			continue
		}
		out = append(out, remind.Due{Kind: q.Kind, Subject: crm.Ref{Type: crm.TypeTask, ID: t.ID}, About: t.Subject,
			RecipientID: t.AssigneeID, At: at.UTC(), Title: t.Title})
	}
	return firstDue(out, q.Limit), nil
}

// firstDue returns the first limit reminders in (time, subject ID) order.
func firstDue(out []remind.Due, limit int) []remind.Due {
	slices.SortFunc(out, func(a, b remind.Due) int {
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return compareID(a.Subject.ID, b.Subject.ID)
	})
	return out[:min(len(out), limit)]
}

func (r reminderRepo) DueNotices(ctx context.Context, q remind.NoticeQuery) ([]remind.Due, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: due pool notices: %w", err)
	}
	defer unlock()
	tenant, rs := crm.TenantFrom(ctx), r.tx.remindState()
	var out []remind.Due
	for _, h := range r.tx.poolState().holdings {
		if h.TenantID != tenant || h.PoolID != q.PoolID || !dueIndexed(h) || !h.DueAt.After(q.Now) || h.DueAt.After(q.Until) {
			continue
		}
		if !remind.Past(h.DueAt, h.CustomerID, q.AfterAt, q.AfterID) {
			continue
		}
		if _, fired := rs.firings[firingKey{tenant, remind.KindPoolNotice, h.CustomerID, h.DueAt.UnixMicro(), ""}]; fired {
			continue
		}
		customer := crm.Ref{Type: crm.TypeCustomer, ID: h.CustomerID}
		out = append(out, remind.Due{Kind: remind.KindPoolNotice, Subject: customer, About: customer,
			RecipientID: h.OwnerID, At: h.DueAt.UTC(), PoolID: h.PoolID})
	}
	return firstDue(out, q.Limit), nil
}

func (r reminderRepo) WaitingApprovals(ctx context.Context, startedBy time.Time, after crm.ID, limit int) ([]*workflow.Instance, error) {
	if limit < 1 || limit > remind.MaxBatch {
		return nil, crm.Invalid("limit", "must be between 1 and %d, got %d", remind.MaxBatch, limit)
	}
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: waiting approvals: %w", err)
	}
	defer unlock()
	ws, tenant := r.tx.workflowState(), crm.TenantFrom(ctx)
	var ids []crm.ID
	for k, id := range ws.pending {
		if k.tenant == tenant && compareID(id, after) > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareID)
	var out []*workflow.Instance
	for _, id := range ids {
		in, err := decodeInstance(ws.instances[id])
		if err != nil {
			return nil, err
		}
		if waitingSince(in, startedBy) {
			out = append(out, in)
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// waitingSince reports whether in has an active step started at or
// before startedBy: the listing filter, as pgstore's SQL spells it.
func waitingSince(in *workflow.Instance, startedBy time.Time) bool {
	for _, s := range in.Steps {
		if s.Status == workflow.StepActive && !s.StartedAt.IsZero() && !s.StartedAt.After(startedBy) {
			return true
		}
	}
	return false
}

func (r reminderRepo) Record(ctx context.Context, firings []remind.Firing) ([]bool, error) {
	var p crm.Problems
	for i := range firings {
		p.MergeAt(fmt.Sprintf("firings[%d]", i), firings[i].Validate())
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	unlock, err := r.tx.begin(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("memstore: record reminder firings: %w", err)
	}
	defer unlock()
	rs, tenant := r.tx.remindState(), crm.TenantFrom(ctx)
	stored := make([]bool, len(firings))
	for i, f := range firings {
		f.TenantID = tenant
		f.At, f.FiredAt = crm.StorageTime(f.At), crm.StorageTime(f.FiredAt)
		k := firingKey{tenant, f.Kind, f.SubjectID, f.At.UnixMicro(), f.Part}
		if _, ok := rs.firings[k]; ok {
			continue
		}
		rs.firings[k] = f
		stored[i] = true
		r.tx.onUndo(func() { delete(rs.firings, k) })
	}
	return stored, nil
}

func (r reminderRepo) Firings(ctx context.Context, subject crm.ID) ([]remind.Firing, error) {
	unlock, err := r.tx.begin(ctx, false)
	if err != nil {
		return nil, fmt.Errorf("memstore: reminder firings of %s: %w", subject, err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	var out []remind.Firing
	for k, f := range r.tx.remindState().firings {
		if k.tenant == tenant && k.subject == subject {
			out = append(out, f)
		}
	}
	slices.SortFunc(out, func(a, b remind.Firing) int {
		if c := a.FiredAt.Compare(b.FiredAt); c != 0 {
			return c
		}
		if c := strings.Compare(string(a.Kind), string(b.Kind)); c != 0 {
			return c
		}
		if c := a.At.Compare(b.At); c != 0 {
			return c
		}
		return strings.Compare(a.Part, b.Part)
	})
	return out, nil
}
