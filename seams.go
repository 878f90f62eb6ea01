package crmkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/workflow"
)

// seams holds what the bridges between domains share. The domain packages
// never import each other: each declares the small interface it needs at
// the seam, and the types below implement those interfaces over the other
// domains' services, inside the caller's unit of work.
type seams struct {
	ids        crm.IDGenerator
	clock      crm.Clock
	perm       permission.Authorizer
	policy     dedupe.Policy
	capture    dedupe.Policy
	router     *workflow.Router
	leadRecord func(*cond.Schema, *crm.Lead) (*cond.Record, error)
	dedupe     *dedupe.Service
	pools      *pool.Service
}

// poolDuplicates answers pool anti-collision (create, claim, assign) from
// the stored match keys, and keeps the keys of the customers pools create
// or take in.
type poolDuplicates struct{ s *seams }

var (
	_ pool.DuplicateChecker = poolDuplicates{}
	_ pool.CustomerIndexer  = poolDuplicates{}
)

// Duplicates implements [pool.DuplicateChecker]: the customers an entry of c
// would be blocked by under the entry policy, the holder of c's strong key
// first. A claimed or assigned customer is stored: its stored keys are
// used ([dedupe.Service.DecideStoredTx]); a customer being created has
// none yet, and gets them computed.
func (d poolDuplicates) Duplicates(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]crm.ID, error) {
	action, cands, err := d.s.dedupe.DecideStoredTx(ctx, tx, c, d.s.policy)
	if err != nil || action != dedupe.Block {
		return nil, err
	}
	var out []crm.ID
	for _, cd := range cands {
		if cd.Strong || (d.s.policy.BlockScore != 0 && cd.Score >= d.s.policy.BlockScore) {
			out = append(out, cd.CustomerID)
		}
	}
	return out, nil
}

// IndexCustomer implements [pool.CustomerIndexer].
func (d poolDuplicates) IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	return d.s.dedupe.IndexCustomerTx(ctx, tx, c)
}

// leadDuplicates answers a conversion's duplicate check from the stored
// match keys and keeps the keys of the customer it creates.
type leadDuplicates struct{ s *seams }

var (
	_ lead.DuplicateChecker = leadDuplicates{}
	_ lead.CustomerIndexer  = leadDuplicates{}
)

// FindCustomer implements [lead.DuplicateChecker]: the best candidate the
// entry policy blocks or warns about.
func (d leadDuplicates) FindCustomer(ctx context.Context, tx crm.Tx, l *crm.Lead) (lead.DuplicateMatch, bool, error) {
	c := lead.CustomerDraft(l)
	action, cands, err := d.s.dedupe.DecideTx(ctx, tx, c, d.s.policy)
	if err != nil || action == dedupe.Allow {
		return lead.DuplicateMatch{}, false, err
	}
	best := cands[0]
	reason := agreed(best.Reasons)
	if best.Strong {
		reason = "same strong key; " + reason
	}
	return lead.DuplicateMatch{CustomerID: best.CustomerID, Score: best.Score, Reason: reason}, true, nil
}

// IndexCustomer implements [lead.CustomerIndexer].
func (d leadDuplicates) IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error {
	return d.s.dedupe.IndexCustomerTx(ctx, tx, c)
}

// leadCapture answers a capture's duplicate check from the stored match
// keys of open leads and customers, under the capture policy, and keeps
// the keys of leads as they are captured, transitioned and converted.
type leadCapture struct{ s *seams }

var (
	_ lead.CaptureChecker = leadCapture{}
	_ lead.LeadIndexer    = leadCapture{}
)

// CheckCapture implements [lead.CaptureChecker] with
// [dedupe.Service.CaptureLeadTx] and [Config.CapturePolicy]. A customer's
// owner is reported as the pools let actor see it ([pool.Service.StatusTx]:
// the owner, the owner's managers and pool admins see who, a colleague
// learns that someone holds it); the lead package masks the owners of
// leads itself.
func (c leadCapture) CheckCapture(ctx context.Context, tx crm.Tx, l *crm.Lead, actor crm.ID) (lead.CaptureCheck, error) {
	action, cands, err := c.s.dedupe.CaptureLeadTx(ctx, tx, l, c.s.capture)
	if err != nil || action == dedupe.Allow {
		return lead.CaptureCheck{}, err
	}
	out := lead.CaptureCheck{Decision: lead.CaptureWarn, Duplicates: make([]lead.CaptureDuplicate, 0, len(cands))}
	if action == dedupe.Block {
		out.Decision = lead.CaptureBlock
	}
	for _, cd := range cands {
		d := lead.CaptureDuplicate{OwnerID: cd.OwnerID, Score: cd.Score, Strong: cd.Strong, Reason: agreed(cd.Reasons)}
		switch cd.Record.Type {
		case crm.TypeLead:
			d.LeadID = cd.Record.ID
		default:
			d.CustomerID = cd.CustomerID
			if actor != crm.NilID {
				st, err := c.s.pools.StatusTx(ctx, tx, actor, cd.CustomerID)
				if err != nil {
					return lead.CaptureCheck{}, err
				}
				d.OwnerID = st.OwnerID
				d.OwnerHidden = st.State == pool.StateTaken && st.OwnerID == crm.NilID
			}
		}
		out.Duplicates = append(out.Duplicates, d)
	}
	return out, nil
}

// IndexLead implements [lead.LeadIndexer] with [dedupe.Service.IndexLeadTx].
func (c leadCapture) IndexLead(ctx context.Context, tx crm.Tx, l *crm.Lead) error {
	return c.s.dedupe.IndexLeadTx(ctx, tx, l)
}

// convertedCustomers stores the customers conversions create: an owned one
// through the pools (holding, the owner's counters and limits, ledger,
// keys, event), an unowned one with its keys and event.
type convertedCustomers struct{ s *seams }

var _ lead.CustomerCreator = convertedCustomers{}

// CreateConvertedCustomer implements [lead.CustomerCreator]. The owner's
// owned-customer limit applies: a conversion routed to someone at their
// cap fails with an error matching [crm.ErrLimitExceeded] and keeps
// nothing.
func (cc convertedCustomers) CreateConvertedCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer, actor crm.ID) error {
	if c.OwnerID == crm.NilID {
		if err := tx.Customers().Create(ctx, c); err != nil {
			return err
		}
		if err := cc.s.dedupe.IndexCustomerTx(ctx, tx, c); err != nil {
			return err
		}
		return nil
	}
	if actor == crm.NilID {
		actor = c.OwnerID // a system conversion: the owner creates it
	}
	owner := c.OwnerID
	c.OwnerID = crm.NilID
	_, err := cc.s.pools.CreateTx(ctx, tx, pool.CreateRequest{Actor: actor, Owner: owner, Customer: c})
	if err != nil {
		c.OwnerID = owner
	}
	return err
}

// convertedContacts stores the contacts conversions create through the
// contact duplicate check: a lead converted into a customer that already
// has its person as a contact reuses that contact.
type convertedContacts struct{ s *seams }

var _ lead.ContactCreator = convertedContacts{}

// CreateConvertedContact implements [lead.ContactCreator] with
// [dedupe.Service.EnterContactTx] under the entry policy; a contact the
// check blocks as the same person is returned in place of the new one.
func (cc convertedContacts) CreateConvertedContact(ctx context.Context, tx crm.Tx, c *crm.Contact, actor crm.ID) (*crm.Contact, error) {
	res, err := cc.s.dedupe.EnterContactTx(ctx, tx, dedupe.ContactEntryRequest{Contact: c, Policy: cc.s.policy, ActorID: actor})
	var blocked *dedupe.ContactBlockedError
	if errors.As(err, &blocked) && blocked.Existing != nil {
		// Nothing was written: the customer's contact is the lead's person.
		return blocked.Existing.Clone(), nil
	}
	if err != nil {
		return nil, err
	}
	return res.Contact, nil
}

// agreed names the fields that agreed, e.g. "company exact, phone exact".
func agreed(reasons []dedupe.Reason) string {
	var parts []string
	for _, r := range reasons {
		if r.Weight > 0 {
			parts = append(parts, r.Field+" "+r.Level.String())
		}
	}
	return strings.Join(parts, ", ")
}

// leadRouter routes a converted lead with the configured router, inside the
// conversion's unit of work.
type leadRouter struct{ s *seams }

var _ lead.OwnerRouter = leadRouter{}

// RouteOwner implements [lead.OwnerRouter]: a lead that already has an
// owner (routed at intake with [CRM.RouteLead], or given by hand) keeps
// them; an unowned one is routed. A decision for a queue keeps the lead's
// owner.
func (r leadRouter) RouteOwner(ctx context.Context, tx crm.Tx, l *crm.Lead) (crm.ID, error) {
	if l.OwnerID != crm.NilID {
		return crm.NilID, nil
	}
	wt, ok := crm.As[workflow.RouteTx](tx)
	if !ok {
		return crm.NilID, fmt.Errorf("storage adapter %T has no routing port: %w", tx, crm.ErrUnsupported)
	}
	rec, err := r.s.leadRecord(r.s.router.Schema(), l)
	if err != nil {
		return crm.NilID, fmt.Errorf("routing record: %w", err)
	}
	d, err := r.s.router.RouteTx(ctx, wt, r.s.ids, l.ID, &workflow.Request{Record: rec, Now: r.s.clock.Now(), Owner: l.OwnerID})
	if err != nil {
		return crm.NilID, err
	}
	return d.UserID, nil
}

// LeadRecord is the default [Config.LeadRecord]: a new record of schema
// filled by [cond.FillLead] — the fields of schema that name a lead
// attribute ("name", "company", "title", "email", "phone", "industry",
// "region", "source", "status" as strings, "company_size" as a number,
// "tags" as strings, "owner_id", "department_id" and "created_by" as IDs),
// string fields named like one of the lead's text custom fields (a lead
// attribute of the same name wins), and the custom fields themselves when
// the schema has them. Fields the lead leaves empty stay unset.
func LeadRecord(schema *cond.Schema, l *crm.Lead) (*cond.Record, error) {
	rec := schema.NewRecord()
	if err := cond.FillLead(rec, l); err != nil {
		return nil, err
	}
	return rec, nil
}

// poolAuthorizer asks the pool's own rules, then the permission policy.
type poolAuthorizer struct {
	base pool.Authorizer
	s    *seams
}

var _ pool.Authorizer = poolAuthorizer{}

// Authorize implements [pool.Authorizer].
func (a poolAuthorizer) Authorize(ctx context.Context, tx crm.Tx, acc *pool.Access) error {
	if err := a.base.Authorize(ctx, tx, acc); err != nil {
		return err
	}
	if a.s.perm == nil || acc.Customer == nil {
		return nil
	}
	action := permission.ActionEdit
	switch acc.Action {
	case pool.ActionClaim:
		action = permission.ActionClaim
	case pool.ActionAssign, pool.ActionTransfer:
		action = permission.ActionAssign
	case pool.ActionSeeOwner:
		action = permission.ActionView
	}
	r, err := resourceOf(ctx, tx, acc.Customer)
	if err != nil {
		return err
	}
	if err := a.s.authorize(ctx, tx, acc.Actor, action, &r); err != nil {
		return fmt.Errorf("pool: %s customer %s: %w", acc.Action, acc.Customer.ID, err)
	}
	return nil
}

// leadAuthorizer asks a host's lead authorizer, then the permission policy.
type leadAuthorizer struct {
	base lead.Authorizer
	s    *seams
}

var _ lead.Authorizer = leadAuthorizer{}

// AuthorizeLead implements [lead.Authorizer]: a capture needs the
// policy's create grant on the new lead, learning who owns a duplicate
// lead its view grant on that lead, and every other lead operation its
// edit grant on the lead.
func (a leadAuthorizer) AuthorizeLead(ctx context.Context, tx crm.Tx, acc *lead.Access) error {
	if a.base != nil {
		if err := a.base.AuthorizeLead(ctx, tx, acc); err != nil {
			return err
		}
	}
	if a.s.perm == nil || acc.Lead == nil {
		return nil
	}
	r, err := resourceOf(ctx, tx, acc.Lead)
	if err != nil {
		return err
	}
	action := permission.ActionEdit
	switch acc.Action {
	case lead.ActionCapture:
		action = permission.ActionCreate
	case lead.ActionSeeOwner:
		action = permission.ActionView
	}
	if err := a.s.authorize(ctx, tx, acc.Actor, action, &r); err != nil {
		return fmt.Errorf("lead: %s lead %s: %w", acc.Action, acc.Lead.ID, err)
	}
	return nil
}

// approvalAuthorizer asks the permission policy about approval operations
// on the record under approval: submit and recall need edit, deciding and
// handing over need approve, commenting needs view.
type approvalAuthorizer struct{ s *seams }

var _ workflow.ApprovalAuthorizer = approvalAuthorizer{}

// AuthorizeApproval implements [workflow.ApprovalAuthorizer].
func (a approvalAuthorizer) AuthorizeApproval(ctx context.Context, tx crm.Tx, acc *workflow.ApprovalAccess) error {
	if a.s.perm == nil {
		return nil
	}
	action := permission.ActionApprove
	switch acc.Action {
	case workflow.ApprovalActionSubmit, workflow.ApprovalActionRecall:
		action = permission.ActionEdit
	case workflow.ApprovalActionComment:
		action = permission.ActionView
	}
	if err := a.s.authorizeRef(ctx, tx, acc.Actor, action, acc.Record); err != nil {
		return fmt.Errorf("workflow: %s approval of %s %s: %w", acc.Action, acc.Record.Type, acc.Record.ID, err)
	}
	return nil
}

// authorizeRef asks the permission policy whether actor may do action on
// the record ref points at.
func (s *seams) authorizeRef(ctx context.Context, tx crm.Tx, actor crm.ID, action permission.Action, ref crm.Ref) error {
	r, err := refResource(ctx, tx, ref)
	if err != nil {
		return err
	}
	return s.authorizeResource(ctx, tx, actor, action, &r)
}

// authorizeRecord asks the permission policy whether actor may do action
// on a stored record (a *crm.Customer, *crm.Lead, *crm.Opportunity or
// *crm.Ticket).
func (s *seams) authorizeRecord(ctx context.Context, tx crm.Tx, actor crm.ID, action permission.Action, rec any) error {
	r, err := resourceOf(ctx, tx, rec)
	if err != nil {
		return err
	}
	return s.authorizeResource(ctx, tx, actor, action, &r)
}

// authorizeResource loads actor in tx and asks the policy.
func (s *seams) authorizeResource(ctx context.Context, tx crm.Tx, actor crm.ID, action permission.Action, r *permission.Resource) error {
	user, err := tx.Users().Get(ctx, actor)
	if errors.Is(err, crm.ErrNotFound) {
		return crm.Invalid("actor", "unknown user %s", actor)
	}
	if err != nil {
		return err
	}
	return s.authorize(ctx, tx, user, action, r)
}

// compiledPolicy is the CRM's permission policy as compiled now: the
// Policy itself, or a Registry's current one. It is nil without
// permissions, and with an authorizer of the host's own, which decides
// records, not fields or lists.
func (s *seams) compiledPolicy() *permission.Policy {
	switch a := s.perm.(type) {
	case *permission.Policy:
		return a
	case *permission.Registry:
		return a.Policy()
	}
	return nil
}

// authorize asks the permission policy, first bringing a
// [*permission.Registry] in step with the store's department tree when the
// unit of work reports the tree's version ([crm.DepartmentTreeVersions]):
// a department added or moved in the store is decided on where it sits
// now. A plain [*permission.Policy] decides on the tree it was compiled
// against; the host recompiles it when departments change.
func (s *seams) authorize(ctx context.Context, tx crm.Tx, user *crm.User, action permission.Action, r *permission.Resource) error {
	reg, ok := s.perm.(*permission.Registry)
	dv, versioned := crm.As[crm.DepartmentTreeVersions](tx)
	if !ok || !versioned {
		return s.perm.Authorize(ctx, user, action, r)
	}
	version, err := dv.DepartmentTreeVersion(ctx)
	if err != nil {
		return err
	}
	p, err := reg.Sync(ctx, version, func(ctx context.Context) ([]*crm.Department, error) { return allDepartments(ctx, tx) })
	if err != nil {
		return err
	}
	return p.Authorize(ctx, user, action, r)
}

// allDepartments reads every department of the context tenant through tx.
func allDepartments(ctx context.Context, tx crm.Tx) ([]*crm.Department, error) {
	var out []*crm.Department
	page := crm.PageRequest{Limit: crm.MaxPageLimit}
	for {
		got, err := tx.Departments().List(ctx, crm.DepartmentFilter{}, page)
		if err != nil {
			return nil, err
		}
		out = append(out, got.Items...)
		if got.NextCursor == "" {
			return out, nil
		}
		page.Cursor = got.NextCursor
	}
}

// refResource describes the record ref points at. A record type the CRM
// does not store is described by its type alone, which a policy denies
// unless it grants that type without conditions.
func refResource(ctx context.Context, tx crm.Tx, ref crm.Ref) (permission.Resource, error) {
	var rec any
	var err error
	switch ref.Type {
	case crm.TypeCustomer:
		rec, err = tx.Customers().Get(ctx, ref.ID)
	case crm.TypeLead:
		rec, err = tx.Leads().Get(ctx, ref.ID)
	case crm.TypeOpportunity:
		rec, err = tx.Opportunities().Get(ctx, ref.ID)
	case crm.TypeTicket:
		rec, err = tx.Tickets().Get(ctx, ref.ID)
	default:
		return permission.Resource{Type: ref.Type}, nil
	}
	if err != nil {
		return permission.Resource{}, fmt.Errorf("%s %s: %w", ref.Type, ref.ID, err)
	}
	return resourceOf(ctx, tx, rec)
}

// resourceOf describes a stored record for the permission policy, with its
// creator's current department read in tx.
func resourceOf(ctx context.Context, tx crm.Tx, rec any) (permission.Resource, error) {
	var creator crm.ID
	switch r := rec.(type) {
	case *crm.Customer:
		creator = r.CreatedBy
	case *crm.Lead:
		creator = r.CreatedBy
	}
	// Opportunities and tickets keep no creator: no creator condition
	// matches them.
	dept := crm.NilID
	if creator != crm.NilID {
		u, err := tx.Users().Get(ctx, creator)
		switch {
		case err == nil:
			dept = u.DepartmentID
		case !errors.Is(err, crm.ErrNotFound):
			return permission.Resource{}, err
		}
	}
	switch r := rec.(type) {
	case *crm.Customer:
		return permission.CustomerResource(r, dept), nil
	case *crm.Lead:
		return permission.LeadResource(r, dept), nil
	case *crm.Opportunity:
		return permission.OpportunityResource(r, dept), nil
	case *crm.Ticket:
		return permission.TicketResource(r, dept), nil
	}
	return permission.Resource{}, fmt.Errorf("crmkit: no permission resource for %T", rec)
}

// mergeOwnership settles pool ownership inside a dedupe merge.
type mergeOwnership struct{ s *seams }

var _ dedupe.OwnershipSettler = mergeOwnership{}

// SettleMerge implements [dedupe.OwnershipSettler] with
// [pool.Service.SettleMergeTx].
func (m mergeOwnership) SettleMerge(ctx context.Context, tx crm.Tx, cm *dedupe.CustomerMerge, actor crm.ID) (json.RawMessage, error) {
	mo, err := m.s.pools.SettleMergeTx(ctx, tx, pool.MergeOwnershipRequest{SurvivorID: cm.SurvivorID, LoserIDs: cm.LoserIDs, Actor: actor})
	if err != nil {
		return nil, err
	}
	return json.Marshal(mo)
}

// UndoMerge implements [dedupe.OwnershipSettler] with
// [pool.Service.UndoMergeTx].
func (m mergeOwnership) UndoMerge(ctx context.Context, tx crm.Tx, cm *dedupe.CustomerMerge, actor crm.ID) error {
	var mo pool.MergeOwnership
	if err := json.Unmarshal(cm.Ownership, &mo); err != nil {
		return crm.Invalid("merge.ownership", "not a pool merge settlement: %v", err)
	}
	return m.s.pools.UndoMergeTx(ctx, tx, &mo, actor)
}
