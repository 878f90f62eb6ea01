package crmkit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/workflow"
)

// The customer 360° view: one read of everything the departments know of
// a customer, masked for the person reading it.

// ViewSection names a section of a [CustomerView].
type ViewSection string

// The sections of a [CustomerView].
const (
	SectionContacts      ViewSection = "contacts"
	SectionOpportunities ViewSection = "opportunities"
	SectionTickets       ViewSection = "tickets"
	SectionActivities    ViewSection = "activities"
	SectionTasks         ViewSection = "tasks"
	SectionOwnership     ViewSection = "ownership"
	SectionLedger        ViewSection = "ledger"
	SectionApprovals     ViewSection = "approvals"
	SectionHandoffs      ViewSection = "handoffs"
	SectionMerges        ViewSection = "merges"
	SectionLead          ViewSection = "lead"
	SectionTimeline      ViewSection = "timeline"
)

// pagedSections are the sections a [ViewPageRequest] continues, in cursor
// code order.
var pagedSections = []ViewSection{SectionContacts, SectionOpportunities, SectionTickets, SectionActivities, SectionTasks,
	SectionLedger, SectionApprovals, SectionMerges, SectionTimeline}

// View limits.
const (
	// DefaultViewLimit is the page size of each section of a view.
	DefaultViewLimit = 20
	// MaxViewRelated is how many records of each kind (contacts,
	// opportunities, tickets, activities, open tasks) a view reads for a
	// customer, oldest first; a customer with more has the section marked
	// in [CustomerView.Truncated], and the records past the bound are not
	// in the view.
	MaxViewRelated = 1000
)

// ViewPage is one page of a section: its items and the cursor of the next
// page ([ViewPageRequest]), empty when there is no more.
type ViewPage[T any] struct {
	Items      []*T   `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// Omission is a section left out of a view, and why: the viewer may not
// see that kind of record, or the storage adapter cannot read it.
type Omission struct {
	Section ViewSection `json:"section"`
	Reason  string      `json:"reason"`
}

// Ownership is where a customer stands in the public pools, as the viewer
// may see it ([pool.Service.StatusTx]: only the owner, the owner's managers
// and pool admins see who owns it and when it falls back), and its pool
// holding.
type Ownership struct {
	Standing *pool.Standing `json:"standing"`
	// FallsBackInDays is how many whole days remain before the customer
	// falls back into its pool (回落公海), rounded up; nil when it does not
	// fall back or the viewer may not see when.
	FallsBackInDays *int `json:"falls_back_in_days,omitempty"`
}

// LeadOrigin is the lead a customer was converted from: the lead (masked
// as any lead the viewer reads), its lifecycle history, its latest score
// under each model and its score history (the lead.regraded events,
// newest first).
type LeadOrigin struct {
	Lead         *crm.Lead             `json:"lead"`
	History      []*lead.HistoryEntry  `json:"history,omitempty"`
	Scores       []*lead.ScoreSnapshot `json:"scores,omitempty"`
	ScoreHistory []*TimelineEntry      `json:"score_history,omitempty"`
}

// TimelineEntry is an event of the customer or of a record related to it.
// When the viewer may not see some fields of the event's record type, the
// values of those fields in a change event read as [history.Masked], and
// the payload of any other event is withheld (nil, Withheld true): a
// payload may carry field values.
type TimelineEntry struct {
	crm.Event
	Withheld bool `json:"withheld,omitempty"`
}

// CustomerView is one permission-masked read of a customer: what
// marketing, sales, service and finance each know of it. Records the
// viewer may not view are left out, fields the viewer may not see are
// zero (and named in Masked), and a section the viewer may not see at all
// is listed in Omitted with the reason, never filled. Each list is the
// first page of its section; NextCursor continues it with [CRM.ViewPage].
type CustomerView struct {
	Customer *crm.Customer `json:"customer"`
	// Masked names, per record type, the fields the viewer may not see,
	// which read as zero values in the view.
	Masked map[crm.RecordType][]string `json:"masked,omitempty"`

	Contacts      ViewPage[crm.Contact]     `json:"contacts"`
	Opportunities ViewPage[crm.Opportunity] `json:"opportunities"`
	Tickets       ViewPage[crm.Ticket]      `json:"tickets"`
	// Activities are those on the customer and on its visible contacts,
	// opportunities and tickets, oldest first (the timeline reads newest
	// first).
	Activities ViewPage[crm.Activity] `json:"activities"`
	// Tasks are the open tasks on the customer and its visible related
	// records, oldest first.
	Tasks ViewPage[crm.Task] `json:"tasks"`
	// Ownership is the customer's pool standing; nil when omitted.
	Ownership *Ownership `json:"ownership,omitempty"`
	// Ledger is the customer's ownership ledger, oldest first.
	Ledger ViewPage[pool.Entry] `json:"ledger"`
	// Approvals are the requests, pending and finished, on the customer
	// and its visible opportunities, in submission order.
	Approvals ViewPage[workflow.Instance] `json:"approvals"`
	// Handoffs are the customer's hand-off states, one per machine named
	// in [Config.HandoffMachines] that has moved it, each with its stage
	// and its moves.
	Handoffs []*workflow.HandoffState `json:"handoffs,omitempty"`
	// Merges are the merges into this customer and their undoing
	// (customer.merged, customer.merge_undone), newest first.
	Merges ViewPage[TimelineEntry] `json:"merges"`
	// Lead is the lead the customer came from; nil when none.
	Lead *LeadOrigin `json:"lead,omitempty"`
	// Timeline runs through every section: the events of the customer and
	// of every visible record above, newest first.
	Timeline ViewPage[TimelineEntry] `json:"timeline"`

	// Omitted lists the sections left out, with the reason.
	Omitted []Omission `json:"omitted,omitempty"`
	// Truncated lists the sections whose records exceed [MaxViewRelated].
	Truncated []ViewSection `json:"truncated,omitempty"`
}

// ViewPageRequest asks for the next page of one section of a view.
type ViewPageRequest struct {
	// Viewer is the user reading. Required.
	Viewer crm.ID
	// CustomerID is the customer of the view. Required.
	CustomerID crm.ID
	// Cursor is a section's NextCursor from a view of this customer.
	Cursor string
	// Limit is the page size, 1 to [crm.MaxPageLimit]; 0 means
	// [DefaultViewLimit].
	Limit int
}

// View returns one read of customer customerID for viewer, in one unit of
// work: the profile, contacts, opportunities, tickets, activities (also
// those on its contacts, opportunities and tickets), open tasks, pool
// standing and ledger, approvals of the customer and its opportunities,
// hand-off states, merges, the lead it came from with its score history,
// and one timeline through them all, newest first. Each list holds its
// first [DefaultViewLimit] items.
//
// With [Config.Permissions] every record is checked for view as
// permission.Check would ([permission.Policy.Check] with the resources of
// permission.CustomerResource, ContactResource, OpportunityResource,
// TicketResource, ActivityResource, TaskResource, LeadResource): records
// it denies are left out, the fields it hides are zeroed (masked), and a
// record type the viewer may not view at all leaves its section out, with
// the reason, in [CustomerView.Omitted]. A customer the viewer may not
// view is a [*permission.DeniedError] (matching
// [crm.ErrPermissionDenied]). An authorizer of the host's own decides
// records; it cannot mask fields.
//
// Errors: a [*crm.ValidationError] on "viewer" (missing or unknown) or
// "customer_id", [crm.ErrNotFound] for a missing customer.
func (c *CRM) View(ctx context.Context, viewer, customerID crm.ID) (*CustomerView, error) {
	var out *CustomerView
	err := c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		v, err := c.loadView(ctx, tx, viewer, customerID)
		if err != nil {
			return err
		}
		out, err = v.build(ctx, "", nil, DefaultViewLimit)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("crmkit: view of customer %s: %w", customerID, err)
	}
	return out, nil
}

// ViewPage returns the next page of one section of a customer's view: the
// section named by req.Cursor (a NextCursor of [CRM.View] or of an earlier
// ViewPage of the same customer), read and masked as View reads it, in a
// view whose other sections are empty. Errors are those of View, and a
// [*crm.ValidationError] on "cursor" for a cursor of another customer or
// not made by a view, or on "limit".
func (c *CRM) ViewPage(ctx context.Context, req ViewPageRequest) (*CustomerView, error) {
	fail := func(err error) (*CustomerView, error) {
		return nil, fmt.Errorf("crmkit: view page of customer %s: %w", req.CustomerID, err)
	}
	limit := req.Limit
	if limit == 0 {
		limit = DefaultViewLimit
	}
	if limit < 1 || limit > crm.MaxPageLimit {
		return fail(crm.Invalid("limit", "must be between 1 and %d, got %d", crm.MaxPageLimit, req.Limit))
	}
	section, inner, err := decodeViewCursor(req.Cursor, req.CustomerID)
	if err != nil {
		return fail(err)
	}
	var out *CustomerView
	err = c.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		v, err := c.loadView(ctx, tx, req.Viewer, req.CustomerID)
		if err != nil {
			return err
		}
		out, err = v.build(ctx, section, inner, limit)
		return err
	})
	if err != nil {
		return fail(err)
	}
	return out, nil
}

// viewCursorPrefix starts every view cursor.
const viewCursorPrefix = "cv1."

// viewCursor encodes a section's position: the section's code, the
// customer, and the section's own position.
func viewCursor(section ViewSection, customer crm.ID, inner []byte) string {
	b := make([]byte, 0, 17+len(inner))
	b = append(b, byte(slices.Index(pagedSections, section)))
	b = append(b, customer[:]...)
	b = append(b, inner...)
	return viewCursorPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// decodeViewCursor returns the section and position of a view cursor of
// customer.
func decodeViewCursor(cursor string, customer crm.ID) (ViewSection, []byte, error) {
	if cursor == "" {
		return "", nil, crm.Invalid("cursor", "is required: a section's next_cursor")
	}
	rest, ok := strings.CutPrefix(cursor, viewCursorPrefix)
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if !ok || err != nil || len(b) < 17 || int(b[0]) >= len(pagedSections) || len(b) > 17+1024 {
		return "", nil, crm.Invalid("cursor", "not a cursor of a customer view")
	}
	if !bytes.Equal(b[1:17], customer[:]) {
		return "", nil, crm.Invalid("cursor", "a cursor of another customer's view")
	}
	return pagedSections[b[0]], b[17:], nil
}

// viewLoad is what one read of a view has loaded: the customer and its
// visible related records, and the viewer's masks.
type viewLoad struct {
	c        *CRM
	tx       crm.Tx
	user     *crm.User
	policy   *permission.Policy
	subject  permission.Subject
	customer *crm.Customer

	contacts      []*crm.Contact
	opportunities []*crm.Opportunity
	tickets       []*crm.Ticket
	activities    []*crm.Activity
	tasks         []*crm.Task

	// hidden caches each record type's masked fields; all marks a type
	// the viewer may not view at all.
	hidden map[crm.RecordType]viewMask
	// departments caches users' departments, for activity resources.
	departments map[crm.ID]crm.ID
	omitted     []Omission
	truncated   []ViewSection
}

// viewMask is the viewer's mask of one record type.
type viewMask struct {
	fields []string
	all    bool
}

// loadView reads the customer, checks it for view, and reads the visible
// related records.
func (c *CRM) loadView(ctx context.Context, tx crm.Tx, viewer, customerID crm.ID) (*viewLoad, error) {
	switch {
	case viewer == crm.NilID:
		return nil, crm.Invalid("viewer", "is required")
	case customerID == crm.NilID:
		return nil, crm.Invalid("customer_id", "is required")
	}
	u, err := tx.Users().Get(ctx, viewer)
	if errors.Is(err, crm.ErrNotFound) {
		return nil, crm.Invalid("viewer", "unknown user %s", viewer)
	}
	if err != nil {
		return nil, err
	}
	v := &viewLoad{c: c, tx: tx, user: u, policy: c.seams.compiledPolicy(),
		hidden: map[crm.RecordType]viewMask{}, departments: map[crm.ID]crm.ID{u.ID: u.DepartmentID}}
	if v.policy != nil {
		v.subject = v.policy.Subject(u)
	}
	cust, err := tx.Customers().Get(ctx, customerID)
	if err != nil {
		return nil, err
	}
	r, err := resourceOf(ctx, tx, cust)
	if err != nil {
		return nil, err
	}
	if err := v.decide(ctx, &r); err != nil {
		return nil, err
	}
	v.customer = cust

	idOf := []crm.ID{customerID}
	if v.visibleType(crm.TypeContact, SectionContacts) {
		all, err := readRelated(ctx, v, SectionContacts, tx.Contacts(), crm.ContactFilter{CustomerIDs: idOf})
		if err != nil {
			return nil, err
		}
		v.contacts, err = keep(ctx, v, all, func(c *crm.Contact) permission.Resource { return permission.ContactResource(c, cust) })
		if err != nil {
			return nil, err
		}
	}
	if v.visibleType(crm.TypeOpportunity, SectionOpportunities) {
		all, err := readRelated(ctx, v, SectionOpportunities, tx.Opportunities(), crm.OpportunityFilter{CustomerIDs: idOf})
		if err != nil {
			return nil, err
		}
		v.opportunities, err = keep(ctx, v, all, func(o *crm.Opportunity) permission.Resource { return permission.OpportunityResource(o, crm.NilID) })
		if err != nil {
			return nil, err
		}
	}
	if v.visibleType(crm.TypeTicket, SectionTickets) {
		all, err := readRelated(ctx, v, SectionTickets, tx.Tickets(), crm.TicketFilter{CustomerIDs: idOf})
		if err != nil {
			return nil, err
		}
		v.tickets, err = keep(ctx, v, all, func(t *crm.Ticket) permission.Resource { return permission.TicketResource(t, crm.NilID) })
		if err != nil {
			return nil, err
		}
	}
	subjects := v.subjects()
	if v.visibleType(crm.TypeActivity, SectionActivities) {
		all, err := readRelated(ctx, v, SectionActivities, tx.Activities(), crm.ActivityFilter{SubjectIDs: subjects})
		if err != nil {
			return nil, err
		}
		if err := v.loadDepartments(ctx, all); err != nil {
			return nil, err
		}
		v.activities, err = keep(ctx, v, all, func(a *crm.Activity) permission.Resource {
			return permission.ActivityResource(a, v.departments[a.ActorID])
		})
		if err != nil {
			return nil, err
		}
	}
	if v.visibleType(crm.TypeTask, SectionTasks) {
		all, err := readRelated(ctx, v, SectionTasks, tx.Tasks(), crm.TaskFilter{SubjectIDs: subjects, Statuses: []crm.TaskStatus{crm.TaskOpen}})
		if err != nil {
			return nil, err
		}
		v.tasks, err = keep(ctx, v, all, permission.TaskResource)
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

// decide checks r for view: nil when allowed, the denial otherwise.
func (v *viewLoad) decide(ctx context.Context, r *permission.Resource) error {
	switch {
	case v.policy != nil:
		return v.policy.Check(&v.subject, permission.ActionView, r).Err()
	case v.c.cfg.Permissions != nil:
		return v.c.seams.authorize(ctx, v.tx, v.user, permission.ActionView, r)
	}
	return nil
}

// allows is decide as a yes or no; errors other than a denial are
// returned.
func (v *viewLoad) allows(ctx context.Context, r *permission.Resource) (bool, error) {
	err := v.decide(ctx, r)
	if errors.Is(err, crm.ErrPermissionDenied) {
		return false, nil
	}
	return err == nil, err
}

// mask returns the viewer's mask of rt (nothing without a policy).
func (v *viewLoad) mask(rt crm.RecordType) viewMask {
	if v.policy == nil {
		return viewMask{}
	}
	m, ok := v.hidden[rt]
	if !ok {
		m.fields, m.all = v.policy.HiddenFields(&v.subject, rt, permission.ActionView)
		v.hidden[rt] = m
	}
	return m
}

// visibleType reports whether the viewer may view records of rt at all,
// noting the section as omitted when not.
func (v *viewLoad) visibleType(rt crm.RecordType, section ViewSection) bool {
	if v.mask(rt).all {
		v.omit(section, fmt.Sprintf("the viewer's roles grant no view of %s records", rt))
		return false
	}
	return true
}

func (v *viewLoad) omit(section ViewSection, reason string) {
	v.omitted = append(v.omitted, Omission{Section: section, Reason: reason})
}

// subjects returns the customer and its visible contacts, opportunities
// and tickets: the records activities and tasks are about.
func (v *viewLoad) subjects() []crm.ID {
	ids := []crm.ID{v.customer.ID}
	for _, c := range v.contacts {
		ids = append(ids, c.ID)
	}
	for _, o := range v.opportunities {
		ids = append(ids, o.ID)
	}
	for _, t := range v.tickets {
		ids = append(ids, t.ID)
	}
	// A filter takes at most MaxViewRelated values: the customer and its
	// oldest related records.
	if len(ids) > MaxViewRelated {
		ids = ids[:MaxViewRelated]
	}
	return ids
}

// loadDepartments learns the departments of the activities' actors.
func (v *viewLoad) loadDepartments(ctx context.Context, acts []*crm.Activity) error {
	for _, a := range acts {
		if _, ok := v.departments[a.ActorID]; ok || a.ActorID == crm.NilID {
			continue
		}
		u, err := v.tx.Users().Get(ctx, a.ActorID)
		switch {
		case err == nil:
			v.departments[a.ActorID] = u.DepartmentID
		case errors.Is(err, crm.ErrNotFound):
			v.departments[a.ActorID] = crm.NilID
		default:
			return err
		}
	}
	return nil
}

// readRelated reads up to MaxViewRelated records of repo matching f, oldest
// first, marking the section truncated when there are more.
func readRelated[T, F any](ctx context.Context, v *viewLoad, section ViewSection, repo crm.Repository[T, F], f F) ([]*T, error) {
	var out []*T
	page := crm.PageRequest{Limit: MaxViewRelated}
	for {
		p, err := repo.List(ctx, f, page)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out, nil
		}
		if len(out) >= MaxViewRelated {
			v.truncated = append(v.truncated, section)
			return out[:MaxViewRelated], nil
		}
		page = crm.PageRequest{Limit: MaxViewRelated - len(out), Cursor: p.NextCursor}
	}
}

// keep returns the records the viewer may view.
func keep[T any](ctx context.Context, v *viewLoad, recs []*T, res func(*T) permission.Resource) ([]*T, error) {
	if v.policy == nil && v.c.cfg.Permissions == nil {
		return recs, nil
	}
	out := recs[:0]
	for _, r := range recs {
		rr := res(r)
		ok, err := v.allows(ctx, &rr)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// build assembles the view: every section's first page (section ""), or
// the page of one section after its position inner.
func (v *viewLoad) build(ctx context.Context, section ViewSection, inner []byte, limit int) (*CustomerView, error) {
	out := &CustomerView{Truncated: v.truncated}
	all := section == ""
	var err error
	if out.Customer, err = masked(v, v.customer); err != nil {
		return nil, err
	}
	for _, rt := range []crm.RecordType{crm.TypeCustomer, crm.TypeContact, crm.TypeOpportunity, crm.TypeTicket, crm.TypeActivity, crm.TypeTask, crm.TypeLead} {
		if m := v.mask(rt); !m.all && len(m.fields) > 0 {
			if out.Masked == nil {
				out.Masked = map[crm.RecordType][]string{}
			}
			out.Masked[rt] = m.fields
		}
	}
	cid := v.customer.ID
	if all || section == SectionContacts {
		if out.Contacts, err = memoryPage(v, SectionContacts, v.contacts, func(c *crm.Contact) crm.ID { return c.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	if all || section == SectionOpportunities {
		if out.Opportunities, err = memoryPage(v, SectionOpportunities, v.opportunities, func(o *crm.Opportunity) crm.ID { return o.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	if all || section == SectionTickets {
		if out.Tickets, err = memoryPage(v, SectionTickets, v.tickets, func(t *crm.Ticket) crm.ID { return t.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	if all || section == SectionActivities {
		if out.Activities, err = memoryPage(v, SectionActivities, v.activities, func(a *crm.Activity) crm.ID { return a.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	if all || section == SectionTasks {
		if out.Tasks, err = memoryPage(v, SectionTasks, v.tasks, func(t *crm.Task) crm.ID { return t.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	ptx, hasPools := crm.As[pool.Tx](v.tx)
	if all {
		if !hasPools {
			v.omitUnsupported(out, SectionOwnership, "pools")
		} else if out.Ownership, err = v.ownership(ctx); err != nil {
			return nil, err
		}
	}
	if all || section == SectionLedger {
		if !hasPools {
			v.omitUnsupported(out, SectionLedger, "pools")
		} else if out.Ledger, err = v.ledger(ctx, ptx, inner, limit); err != nil {
			return nil, err
		}
	}
	wtx, werr := workflow.TxOf(v.tx)
	var approvals []*workflow.Instance
	if all || section == SectionApprovals || section == SectionTimeline {
		// The timeline runs through the approvals' events too.
		if approvals, err = v.approvalsOf(ctx, wtx, werr); err != nil {
			return nil, err
		}
	}
	if all || section == SectionApprovals {
		if werr != nil {
			v.omitUnsupported(out, SectionApprovals, "workflow")
		} else if out.Approvals, err = memoryPage(v, SectionApprovals, approvals, func(in *workflow.Instance) crm.ID { return in.ID }, inner, limit); err != nil {
			return nil, err
		}
	}
	if all && len(v.c.cfg.HandoffMachines) > 0 {
		if werr != nil {
			v.omitUnsupported(out, SectionHandoffs, "workflow")
		} else {
			for _, m := range v.c.cfg.HandoffMachines {
				st, err := wtx.Handoffs().GetHandoff(ctx, m, crm.Ref{Type: crm.TypeCustomer, ID: cid})
				if errors.Is(err, crm.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				out.Handoffs = append(out.Handoffs, st)
			}
		}
	}
	log, hasLog := crm.As[crm.EventLog](v.tx)
	if all || section == SectionMerges {
		if !hasLog {
			v.omitUnsupported(out, SectionMerges, "event log")
		} else if out.Merges, err = v.events(ctx, log, SectionMerges, []crm.ID{cid},
			[]crm.EventType{dedupe.EventCustomerMerged, dedupe.EventCustomerMergeUndone}, inner, limit); err != nil {
			return nil, err
		}
	}
	var origin *crm.Lead
	if all || section == SectionTimeline {
		if origin, err = v.sourceLead(ctx); err != nil {
			return nil, err
		}
	}
	if all && origin != nil {
		if out.Lead, err = v.leadOrigin(ctx, origin, log, hasLog); err != nil {
			return nil, err
		}
	}
	if all || section == SectionTimeline {
		if !hasLog {
			v.omitUnsupported(out, SectionTimeline, "event log")
		} else {
			ids := v.subjects()
			for _, a := range v.activities {
				ids = append(ids, a.ID)
			}
			for _, t := range v.tasks {
				ids = append(ids, t.ID)
			}
			for _, in := range approvals {
				ids = append(ids, in.ID)
			}
			if origin != nil {
				ids = append(ids, origin.ID)
			}
			if len(ids) > crm.MaxEventSubjects {
				ids = ids[:crm.MaxEventSubjects]
			}
			if out.Timeline, err = v.events(ctx, log, SectionTimeline, ids, nil, inner, limit); err != nil {
				return nil, err
			}
		}
	}
	out.Omitted = v.omitted
	return out, nil
}

// omitUnsupported notes a section the adapter cannot serve.
func (v *viewLoad) omitUnsupported(out *CustomerView, section ViewSection, what string) {
	v.omit(section, fmt.Sprintf("the storage adapter %T has no %s ports", v.tx, what))
}

// memoryPage returns the page of recs (loaded, oldest first) after the
// record whose ID is inner, masked.
func memoryPage[T any](v *viewLoad, section ViewSection, recs []*T, id func(*T) crm.ID, inner []byte, limit int) (ViewPage[T], error) {
	var out ViewPage[T]
	start := 0
	if len(inner) > 0 {
		if len(inner) != 16 {
			return out, crm.Invalid("cursor", "not a cursor of a customer view")
		}
		start = len(recs)
		for i, r := range recs {
			if k := id(r); bytes.Compare(k[:], inner) > 0 {
				start = i
				break
			}
		}
	}
	rest := recs[start:]
	if len(rest) > limit {
		rest = rest[:limit]
		last := id(rest[limit-1])
		out.NextCursor = viewCursor(section, v.customer.ID, last[:])
	}
	for _, r := range rest {
		m, err := masked(v, r)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, m)
	}
	return out, nil
}

// masked returns a copy of rec with the fields the viewer may not see
// zeroed: rec's JSON without them, decoded again.
func masked[T any](v *viewLoad, rec *T) (*T, error) {
	rt := recordTypeOf(rec)
	m := v.mask(rt)
	if len(m.fields) == 0 {
		return rec, nil
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var custom map[string]json.RawMessage
	if raw, ok := doc["fields"]; ok {
		if err := json.Unmarshal(raw, &custom); err != nil {
			return nil, err
		}
	}
	for _, f := range m.fields {
		if name, ok := strings.CutPrefix(f, "fields."); ok {
			delete(custom, name)
		} else {
			delete(doc, f)
		}
	}
	if custom != nil {
		if doc["fields"], err = json.Marshal(custom); err != nil {
			return nil, err
		}
	}
	if b, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, err
	}
	return out, nil
}

// recordTypeOf names the record type of the records a view masks.
func recordTypeOf(rec any) crm.RecordType {
	switch rec.(type) {
	case *crm.Customer:
		return crm.TypeCustomer
	case *crm.Contact:
		return crm.TypeContact
	case *crm.Opportunity:
		return crm.TypeOpportunity
	case *crm.Ticket:
		return crm.TypeTicket
	case *crm.Activity:
		return crm.TypeActivity
	case *crm.Task:
		return crm.TypeTask
	case *crm.Lead:
		return crm.TypeLead
	}
	// Approvals and ledger entries carry no fields a policy declares.
	return ""
}

// ownership reads the customer's standing as the viewer may see it.
func (v *viewLoad) ownership(ctx context.Context) (*Ownership, error) {
	st, err := v.c.Pools.StatusTx(ctx, v.tx, v.user.ID, v.customer.ID)
	if err != nil {
		return nil, err
	}
	o := &Ownership{Standing: st}
	if !st.DueAt.IsZero() {
		const day = 24 * time.Hour
		days := max(0, int((st.DueAt.Sub(v.c.cfg.Clock.Now())+day-1)/day))
		o.FallsBackInDays = &days
	}
	return o, nil
}

// ledger reads a page of the customer's ledger after the Seq in inner.
func (v *viewLoad) ledger(ctx context.Context, ptx pool.Tx, inner []byte, limit int) (ViewPage[pool.Entry], error) {
	var out ViewPage[pool.Entry]
	var after int64
	if len(inner) > 0 {
		if len(inner) != 8 {
			return out, crm.Invalid("cursor", "not a cursor of a customer view")
		}
		after = int64(beUint64(inner))
	}
	entries, err := ptx.PoolLedger().List(ctx, v.customer.ID, after, limit+1)
	if err != nil {
		return out, err
	}
	if len(entries) > limit {
		entries = entries[:limit]
		out.NextCursor = viewCursor(SectionLedger, v.customer.ID, beBytes(uint64(entries[limit-1].Seq)))
	}
	out.Items = entries
	return out, nil
}

// approvalsOf reads the requests of the customer and its visible
// opportunities; without the optional workflow.ApprovalRecords port, only
// their pending ones.
func (v *viewLoad) approvalsOf(ctx context.Context, wtx workflow.Tx, werr error) ([]*workflow.Instance, error) {
	if werr != nil {
		return nil, nil
	}
	records := []crm.ID{v.customer.ID}
	for _, o := range v.opportunities {
		records = append(records, o.ID)
	}
	if len(records) > MaxViewRelated {
		records = records[:MaxViewRelated]
	}
	port := wtx.ApprovalInstances()
	if ar, ok := port.(workflow.ApprovalRecords); ok {
		var out []*workflow.Instance
		page := crm.PageRequest{Limit: crm.MaxPageLimit}
		for len(out) < MaxViewRelated {
			p, err := ar.RecordInstances(ctx, records, page)
			if err != nil {
				return nil, err
			}
			out = append(out, p.Items...)
			if p.NextCursor == "" {
				break
			}
			page.Cursor = p.NextCursor
		}
		return out, nil
	}
	var out []*workflow.Instance
	for i, id := range records {
		rt := crm.TypeOpportunity
		if i == 0 {
			rt = crm.TypeCustomer
		}
		in, err := port.PendingInstance(ctx, crm.Ref{Type: rt, ID: id})
		if errors.Is(err, crm.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// sourceLead returns the lead the customer was converted from when the
// viewer may view it; nil when there is none or the viewer may not.
func (v *viewLoad) sourceLead(ctx context.Context) (*crm.Lead, error) {
	if v.mask(crm.TypeLead).all {
		return nil, nil
	}
	p, err := v.tx.Leads().List(ctx, crm.LeadFilter{ConvertedCustomerIDs: []crm.ID{v.customer.ID}}, crm.PageRequest{Limit: 1})
	if err != nil || len(p.Items) == 0 {
		return nil, err
	}
	l := p.Items[0]
	r, err := resourceOf(ctx, v.tx, l)
	if err != nil {
		return nil, err
	}
	ok, err := v.allows(ctx, &r)
	if err != nil || !ok {
		return nil, err
	}
	return l, nil
}

// leadOrigin reads the source lead's history, scores and score history.
func (v *viewLoad) leadOrigin(ctx context.Context, l *crm.Lead, log crm.EventLog, hasLog bool) (*LeadOrigin, error) {
	ml, err := masked(v, l)
	if err != nil {
		return nil, err
	}
	out := &LeadOrigin{Lead: ml}
	ltx, err := lead.TxOf(v.tx)
	if err != nil {
		v.omit(SectionLead, err.Error())
		return out, nil
	}
	h, err := ltx.LeadHistory().List(ctx, l.ID, crm.PageRequest{Limit: crm.MaxPageLimit})
	if err != nil {
		return nil, err
	}
	out.History = h.Items
	if out.Scores, err = ltx.LeadScores().List(ctx, l.ID); err != nil {
		return nil, err
	}
	if hasLog {
		p, err := v.events(ctx, log, SectionLead, []crm.ID{l.ID}, []crm.EventType{lead.EventLeadRegraded}, nil, crm.MaxPageLimit)
		if err != nil {
			return nil, err
		}
		out.ScoreHistory = p.Items
	}
	return out, nil
}

// events reads a page of the event log of ids (of types, when set) after
// the position inner, masked for the viewer.
func (v *viewLoad) events(ctx context.Context, log crm.EventLog, section ViewSection, ids []crm.ID, types []crm.EventType, inner []byte, limit int) (ViewPage[TimelineEntry], error) {
	var out ViewPage[TimelineEntry]
	q := crm.EventQuery{SubjectIDs: ids, Types: types, Page: crm.PageRequest{Limit: limit}}
	if len(inner) > 0 {
		if len(inner) != 8 {
			return out, crm.Invalid("cursor", "not a cursor of a customer view")
		}
		q.Page.Cursor = crm.EventLogCursor(int64(beUint64(inner)))
	}
	p, err := log.SubjectEvents(ctx, q)
	if err != nil {
		return out, err
	}
	for _, e := range p.Items {
		te, err := v.maskEvent(e)
		if err != nil {
			return out, err
		}
		out.Items = append(out.Items, te)
	}
	if p.NextCursor != "" {
		out.NextCursor = viewCursor(section, v.customer.ID, beBytes(uint64(p.Items[len(p.Items)-1].Seq)))
	}
	return out, nil
}

// maskEvent masks an event for the viewer: in a change event the values
// of hidden fields read as history.Masked; any other payload of a record
// type with hidden fields is withheld.
func (v *viewLoad) maskEvent(e *crm.Event) (*TimelineEntry, error) {
	te := &TimelineEntry{Event: *e}
	m := v.mask(e.Subject.Type)
	if len(m.fields) == 0 || len(e.Payload) == 0 {
		return te, nil
	}
	switch e.Type.Verb() {
	case "created", "updated", "deleted":
		var p crm.ChangedPayload
		if err := json.Unmarshal(e.Payload, &p); err == nil && p.Operation != "" {
			for i := range p.Changes {
				if slices.Contains(m.fields, p.Changes[i].Field) {
					p.Changes[i].Old, p.Changes[i].New = history.Masked, history.Masked
				}
			}
			b, err := json.Marshal(p)
			if err != nil {
				return nil, err
			}
			te.Payload = b
			return te, nil
		}
	}
	te.Payload, te.Withheld = nil, true
	return te, nil
}

func beBytes(u uint64) []byte { return binary.BigEndian.AppendUint64(nil, u) }

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
