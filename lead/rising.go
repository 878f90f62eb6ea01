package lead

import (
	"context"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// Rising leads: the work queue of leads whose grade just rose ("which
// leads just turned hot?"). [Service.ScoreLead] stamps a snapshot's RoseAt
// when its grade rises ([Model.Rises]); adapters keep the snapshots with a
// RoseAt in an index by the lead's owner and department, newest rise
// first, and [Service.Rising] pages through it.

// Open reports whether a lead is still worked: neither converted (it is
// a customer now) nor disqualified. Only open leads are captured, and
// only open leads are listed by [Service.Rising].
func Open(l *crm.Lead) bool {
	return l.Status != crm.LeadConverted && l.Status != crm.LeadDisqualified
}

// Rises reports whether a lead whose grade under m was from rose when m
// graded it to: to is better than from on one axis of the grade (the fit
// letter, A best, or the engagement digit, 1 best) and no worse on the
// other. A grade combines two independent measures, so ranking them as
// one list would count a well-fitting lead whose engagement collapsed (B1
// to A4) as turning hot; a rise here means the lead got better and nothing
// got worse. An empty from (the lead's first snapshot under the model)
// ranks as the lowest grade, D4: a first grade above it rises. A grade
// that is not one of A1 to D4 neither rises nor is risen from.
func (m *Model) Rises(from, to string) bool {
	if from == "" {
		from = gradeNames[len(gradeNames)-1]
	}
	fi, ok1 := gradeIndex(from)
	ti, ok2 := gradeIndex(to)
	if !ok1 || !ok2 || fi == ti {
		return false
	}
	return ti/4 <= fi/4 && ti%4 <= fi%4
}

// riseOf sets the RoseAt and RoseFrom of s, the lead's new snapshot under
// m scored at s.ComputedAt, given its previous snapshot old (nil for
// none): the scoring time and the old grade on a rise, the old ones while
// the grade stays, none when the grade changed any other way. It reports
// whether the grade rose.
func (m *Model) riseOf(old, s *ScoreSnapshot) bool {
	from := ""
	if old != nil {
		from = old.Grade
	}
	switch {
	case m.Rises(from, s.Grade):
		s.RoseAt, s.RoseFrom = s.ComputedAt, from
		return true
	case old != nil && old.Grade == s.Grade:
		s.RoseAt, s.RoseFrom = old.RoseAt, old.RoseFrom
	default:
		s.RoseAt, s.RoseFrom = time.Time{}, ""
	}
	return false
}

// RisingQueue is an optional port of a unit of work (memstore and pgstore
// implement it), found with [crm.As]: the work queue of leads whose grade
// rose. Without it [Service.Rising] reports [crm.ErrUnsupported]: a queue
// read by scanning every snapshot would not be a work queue.
type RisingQueue interface {
	// LeadsRising returns one page of the context tenant's snapshots under
	// model q.ModelID whose RoseAt is at or after q.Since (every one with
	// a RoseAt when Since is zero), of open leads ([Open]) within q.Scope
	// (the lead's OwnerID is its owner, its DepartmentID its department;
	// DepartmentTrees are expanded as for lists, PoolIDs are ignored; nil
	// is every lead), newest RoseAt first, ties by lead ID descending. A
	// snapshot whose lead is not stored is not listed. The adapter reads
	// the page with [ResolveRisingQuery] and makes NextCursor with
	// [RisingCursor]; a missing model ID is a [*crm.ValidationError] on
	// "model_id", a cursor of another query one on "page.cursor". It
	// locks nothing; the leads and snapshots are copies the caller owns.
	LeadsRising(ctx context.Context, q RisingQuery) (crm.Page[RisingLead], error)
}

// RisingQuery asks [RisingQueue.LeadsRising] for a page.
type RisingQuery struct {
	// ModelID names the scoring model whose grades are compared. Required.
	ModelID string
	Scope   *crm.DataScope
	// Since is the earliest rise listed (inclusive); zero lists every
	// rise.
	Since time.Time
	Page  crm.PageRequest
}

// RisingLead is one entry of the rising-leads queue: the lead as stored,
// and its snapshot under the queue's model.
type RisingLead struct {
	Lead  *crm.Lead      `json:"lead"`
	Score *ScoreSnapshot `json:"score"`
}

// risingTag tags cursors of the rising-leads queue.
const risingTag = "lrs"

// RisingCursor returns the cursor that continues the queue after r.
func RisingCursor(r *RisingLead) string {
	return crm.QueueCursor(risingTag, crm.QueueKey{DueAt: r.Score.RoseAt, ID: r.Score.LeadID})
}

// ResolveRisingQuery validates q and returns its page's limit, the key
// (RoseAt, lead ID) after which the page starts in the queue's newest-first
// order (nil for the first page: the next entries have a smaller key), and
// q.Since rounded up to stored precision (microseconds, UTC), so that a
// stored RoseAt is listed exactly when it is not before since. Errors: a
// [*crm.ValidationError] on "model_id" when it is missing or malformed,
// on "page.limit" for a bad limit, on "page.cursor" for a cursor not made
// by [RisingCursor].
func ResolveRisingQuery(q RisingQuery) (limit int, after *crm.QueueKey, since time.Time, err error) {
	if q.ModelID == "" {
		return 0, nil, time.Time{}, crm.Invalid("model_id", "is required")
	}
	if verr := checkDocumentID("model_id", q.ModelID); verr != nil {
		return 0, nil, time.Time{}, verr
	}
	limit, after, err = crm.ResolveQueuePage(risingTag, "rising-leads", q.Page)
	if err != nil {
		return 0, nil, time.Time{}, err
	}
	since = q.Since.UTC()
	if t := since.Truncate(time.Microsecond); t.Before(since) {
		since = t.Add(time.Microsecond)
	}
	return limit, after, since, nil
}

// RisingRequest asks for a page of leads whose grade rose.
type RisingRequest struct {
	// Actor is the user whose queue it is. Required unless Scope is set.
	Actor crm.ID
	// Team lists the team's leads instead of the actor's own: those of
	// Scope when set, otherwise those of the departments the actor
	// manages and the departments below them.
	Team bool
	// Scope, when set, is the team: the data scope to list (a permission
	// policy's list filter). It implies Team.
	Scope *crm.DataScope
	// ModelID names the scoring model whose grades count. Required.
	ModelID string
	// Since is the earliest rise listed (inclusive). Zero lists every
	// lead whose current grade was reached by a rise, newest first.
	Since time.Time
	// Page is the page to read; its cursor comes from a previous page of
	// this queue.
	Page crm.PageRequest
}

// Rising returns a page of the open leads ([Open]) whose grade under model
// req.ModelID rose ([Model.Rises]) at or after req.Since and has not
// changed since but upwards: the actor's own (owned by the actor), or the
// team's (see [RisingRequest.Team]). The newest rise comes first (ties by
// lead ID, descending): "which leads just turned hot?" is read from the
// top, and with no Since bound the first page is still the freshest. Each
// entry carries the lead and its snapshot, so the caller reads nothing
// more. It reads in a unit of work of its own and locks nothing. Errors:
// a [*crm.ValidationError] naming the field ("actor", "model_id",
// "page.limit", "page.cursor", "scope...."), [crm.ErrUnsupported] when the
// adapter lacks [RisingQueue].
func (s *Service) Rising(ctx context.Context, req RisingRequest) (crm.Page[RisingLead], error) {
	fail := func(err error) (crm.Page[RisingLead], error) {
		return crm.Page[RisingLead]{}, fmt.Errorf("lead: rising: %w", err)
	}
	if req.Scope == nil && req.Actor == crm.NilID {
		return fail(crm.Invalid("actor", "is required without a scope"))
	}
	if err := crm.ValidateScope(req.Scope); err != nil {
		return fail(err)
	}
	q := RisingQuery{ModelID: req.ModelID, Since: req.Since, Page: req.Page}
	if _, _, _, err := ResolveRisingQuery(q); err != nil {
		return fail(err)
	}
	var page crm.Page[RisingLead]
	err := s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		rq, ok := crm.As[RisingQueue](t)
		if !ok {
			return fmt.Errorf("storage adapter %T has no rising-leads queue: %w", t, crm.ErrUnsupported)
		}
		scope, err := crm.QueueScope(ctx, t, req.Actor, req.Team, req.Scope)
		if err != nil {
			return err
		}
		q.Scope = scope
		page, err = rq.LeadsRising(ctx, q)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return page, nil
}
