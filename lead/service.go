package lead

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// DuplicateChecker finds an existing customer that a lead duplicates. The
// dedupe package (or a host's own matcher) implements it. [Service] asks it
// inside the conversion's unit of work, passing that unit of work as tx, so
// the checker reads what the conversion commits against; when it also
// implements [CustomerIndexer], the customers conversions create are indexed
// in the same unit of work. Implementations must be safe for concurrent use
// and must not change l.
type DuplicateChecker interface {
	// FindCustomer returns the best matching customer and true, or false
	// when the lead matches none. An error fails the conversion, which
	// then keeps nothing.
	FindCustomer(ctx context.Context, tx crm.Tx, l *crm.Lead) (DuplicateMatch, bool, error)
}

// CustomerIndexer keeps the match keys of customers a conversion creates, so
// later conversions' [DuplicateChecker] finds them. [Service] finds it on
// [Config.Duplicates] by type assertion and calls it right after creating a
// customer, in the same unit of work. An indexer that keeps a unique (strong)
// key returns an error matching [crm.ErrAlreadyExists] when another customer
// holds the key; the conversion then fails and keeps nothing, so of two
// concurrent conversions of one company only one creates a customer.
// Implementations must be safe for concurrent use.
type CustomerIndexer interface {
	// IndexCustomer records c's match keys through tx. c has its stored
	// ID, version and times; the indexer must not change it.
	IndexCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer) error
}

// CustomerCreator stores the customer a conversion creates, in the
// conversion's unit of work, in place of tx.Customers().Create. The
// composition root (package crmkit) stores it through the pools, so an
// owned customer gets its pool holding, its owner's counters and limits
// and a ledger entry like any other. When set, the creator also keeps the
// customer's match keys: the conversion calls no [CustomerIndexer] for it. Implementations must be safe for concurrent use.
type CustomerCreator interface {
	// CreateConvertedCustomer stores c (ID, owner and creator set; its
	// DepartmentID may be changed to the owner's) on behalf of actor
	// (crm.NilID for the system), writing the stored values back into c.
	CreateConvertedCustomer(ctx context.Context, tx crm.Tx, c *crm.Customer, actor crm.ID) error
}

// ContactCreator stores the contact person a conversion makes for its
// customer, in the conversion's unit of work, in place of
// tx.Contacts().Create. The composition root (package crmkit) checks it
// against the customer's other contacts first: converting a lead into an
// existing customer whose contacts already include the lead's person adds
// no second contact for them. Implementations must be safe for concurrent
// use.
type ContactCreator interface {
	// CreateConvertedContact stores c (ID, customer and owner set) on
	// behalf of actor (crm.NilID for the system) and returns the stored
	// contact, or the customer's existing contact that is the same person,
	// which the conversion then reports instead.
	CreateConvertedContact(ctx context.Context, tx crm.Tx, c *crm.Contact, actor crm.ID) (*crm.Contact, error)
}

// DuplicateMatch is a customer a lead appears to duplicate.
type DuplicateMatch struct {
	CustomerID crm.ID  `json:"customer_id"`
	Score      float64 `json:"score,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

// OwnerRouter decides who should own what a converted lead becomes. The
// workflow package's routing (or a host's own rule) implements it. [Service]
// asks it inside the conversion's unit of work, after the duplicate check,
// and the router writes what it must remember (round-robin cursors, load
// counters) through tx, so a conversion that fails afterwards keeps none of
// it. Implementations must be safe for concurrent use and must not change l.
type OwnerRouter interface {
	// RouteOwner returns the owner's user ID, or crm.NilID to keep the
	// lead's owner. The owner must be a stored user: the conversion reads
	// it to give the new customer the owner's department.
	RouteOwner(ctx context.Context, tx crm.Tx, l *crm.Lead) (crm.ID, error)
}

// Authorizer decides whether an actor may change, convert or score a lead.
// The permission package (or a host's own policy) implements it. [Service]
// asks it inside the operation's unit of work, after reading the lead and
// (for a transition or conversion) checking the lifecycle, and only for a
// request with an actor: the system (a nil actor) is never asked.
// Implementations must be safe for concurrent use and must not change the
// [Access].
type Authorizer interface {
	// AuthorizeLead returns nil to allow the access, or an error matching
	// [crm.ErrPermissionDenied] to refuse it, which [Service] returns as it
	// is (not wrapped) and stores nothing. Any other error fails the
	// operation too, wrapped.
	AuthorizeLead(ctx context.Context, tx crm.Tx, a *Access) error
}

// Action is what an actor asks to do to a lead.
type Action string

// The actions an [Authorizer] is asked about.
const (
	// ActionTransition moves a lead to another status ([Service.Transition]).
	ActionTransition Action = "transition"
	// ActionConvert converts a lead ([Service.Convert]).
	ActionConvert Action = "convert"
	// ActionScore scores a lead and stores its snapshot ([Service.ScoreLead]
	// with an actor).
	ActionScore Action = "score"
	// ActionCapture stores a new lead ([Service.Capture]); Access.Lead is
	// the lead about to be stored.
	ActionCapture Action = "capture"
	// ActionSeeOwner asks whether the actor may learn who owns a lead that
	// a capture duplicates ([Service.OwnerVisibleTx]); a refusal hides the
	// owner and fails nothing.
	ActionSeeOwner Action = "see_owner"
)

// Access is one question to an [Authorizer]: may Actor do Action to Lead?
type Access struct {
	Action Action
	// Actor is the acting user, read in the operation's unit of work.
	Actor *crm.User
	// Lead is the lead as stored before the operation.
	Lead *crm.Lead
	// To is the status a transition moves to; empty for other actions.
	To crm.LeadStatus
}

// DuplicateError reports that a lead matches an existing customer and the
// request did not say to attach to it. It matches [crm.ErrAlreadyExists].
type DuplicateError struct{ Match DuplicateMatch }

// Error implements error.
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("lead: convert: the lead matches existing customer %s (%s); attach to it or create a new one explicitly", e.Match.CustomerID, e.Match.Reason)
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *DuplicateError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// Config configures a [Service].
type Config struct {
	// Clock stamps transitions, conversions and events. Defaults to
	// crm.SystemClock.
	Clock crm.Clock
	// IDs makes record and event IDs. Defaults to crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// Lifecycle decides which status changes are allowed. Defaults to
	// DefaultLifecycle().
	Lifecycle *Lifecycle
	// Duplicates is asked before a conversion creates a customer, and
	// indexes the customers conversions create when it is also a
	// [CustomerIndexer]. Defaults to nil: no duplicate check.
	Duplicates DuplicateChecker
	// Router picks the owner of converted records. Defaults to nil: the
	// lead's owner.
	Router OwnerRouter
	// Authorizer is asked whether a request's actor may transition, convert
	// or score a lead. Defaults to nil: every actor is allowed.
	Authorizer Authorizer
	// Customers stores the customer a conversion creates. Defaults to nil:
	// tx.Customers().Create and the [CustomerIndexer].
	Customers CustomerCreator
	// Contacts stores the contact a conversion makes. Defaults to nil:
	// tx.Contacts().Create.
	Contacts ContactCreator
	// Capture checks captured leads against the stored open leads and
	// customers ([Service.Capture]) and, when it is also a [LeadIndexer],
	// keeps the match keys of leads that transitions and conversions
	// change. Defaults to nil: captures check nothing.
	Capture CaptureChecker
}

func (c *Config) validate() error {
	if c.Clock == nil || c.IDs == nil || c.Lifecycle == nil {
		return errors.New("lead: config: clock, ids and lifecycle must be set")
	}
	return nil
}

// Service moves leads through their lifecycle, converts them, stores
// scoring models and predictors, and scores leads with stored models, each
// operation one all-or-nothing unit of work with its events. It needs a store
// whose units of work offer the lead ports ([Tx]); on any other store its
// operations return an error matching [crm.ErrUnsupported]. It is safe for
// concurrent use.
type Service struct {
	store  crm.Store
	cfg    Config
	models *modelCache
}

// New returns a service on store. A nil cfg means defaults.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("lead: new: %w", crm.Invalid("store", "is required"))
	}
	c := Config{}
	if cfg != nil {
		c = *cfg
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	if c.Lifecycle == nil {
		c.Lifecycle = DefaultLifecycle()
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Service{store: store, cfg: c, models: &modelCache{}}, nil
}

// run runs op, the Tx form of an operation, in a unit of work of its own.
// An error op returned reaches the caller as op returned it (already
// wrapped, or an [Authorizer]'s refusal as is); an error of the unit of work
// itself (begin, commit) goes through wrapErr.
func (s *Service) run(ctx context.Context, op func(ctx context.Context, tx crm.Tx) error, wrapErr func(error) error) error {
	var opErr error
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		opErr = op(ctx, tx)
		return opErr
	})
	switch {
	case err == nil:
		return nil
	case opErr != nil && errors.Is(err, opErr):
		return err
	default:
		return wrapErr(err)
	}
}

// refusal carries an [Authorizer]'s refusal up to the Tx form, which
// returns the refusal itself rather than wrapping it.
type refusal struct{ err error }

func (r *refusal) Error() string { return r.err.Error() }
func (r *refusal) Unwrap() error { return r.err }

// fail wraps err for the Tx form of op, except an authorizer's refusal,
// which is returned as is.
func fail(op string, id crm.ID, err error) error {
	var r *refusal
	if errors.As(err, &r) {
		return r.err
	}
	return wrap(op, id, err)
}

// authorize asks the configured [Authorizer] whether actorID may do action
// to l. A nil authorizer or a nil actor allows everything; an unknown actor
// is a [*crm.ValidationError] on "actor".
func (s *Service) authorize(ctx context.Context, tx crm.Tx, action Action, actorID crm.ID, l *crm.Lead, to crm.LeadStatus) error {
	if s.cfg.Authorizer == nil || actorID == crm.NilID {
		return nil
	}
	actor, err := tx.Users().Get(ctx, actorID)
	if errors.Is(err, crm.ErrNotFound) {
		return crm.Invalid("actor", "unknown user %s", actorID)
	}
	if err != nil {
		return fmt.Errorf("read actor %s: %w", actorID, err)
	}
	err = s.cfg.Authorizer.AuthorizeLead(ctx, tx, &Access{Action: action, Actor: actor, Lead: l.Clone(), To: to})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, crm.ErrPermissionDenied):
		return &refusal{err}
	default:
		return fmt.Errorf("authorize %s: %w", action, err)
	}
}

// TransitionRequest asks to move a lead to another status.
type TransitionRequest struct {
	LeadID crm.ID
	To     crm.LeadStatus
	// Actor is the user making the change; NilID for the system. With a
	// [Config.Authorizer], a set actor must be a stored user and is asked
	// about with [ActionTransition].
	Actor crm.ID
	// Reason explains the change; required to disqualify or reopen.
	Reason string
	// Version, when non-zero, must equal the lead's current version, so a
	// decision made on a stale read is refused with crm.ErrConflict.
	Version int64
}

// Transition moves a lead to req.To if the lifecycle allows it and the
// [Authorizer] lets req.Actor, stores the lead, its history entry and its
// event (whose payload is the returned [HistoryEntry]) in one unit of work,
// and returns the updated lead. Converting goes through [Service.Convert].
// Errors: [crm.ErrNotFound], [crm.ErrConflict], a [*crm.ValidationError] for
// bad input or an unknown actor, a [*TransitionError] for a move the
// lifecycle refuses, the authorizer's refusal ([crm.ErrPermissionDenied]).
// It is [Service.TransitionTx] in a unit of work of its own.
func (s *Service) Transition(ctx context.Context, req TransitionRequest) (*crm.Lead, *HistoryEntry, error) {
	var out *crm.Lead
	var entry *HistoryEntry
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, entry, err = s.TransitionTx(ctx, tx, req)
		return err
	}, func(err error) error { return wrap("transition", req.LeadID, err) })
	if err != nil {
		return nil, nil, err
	}
	return out, entry, nil
}

// TransitionTx is [Service.Transition] inside a unit of work the caller
// holds ([crm.Store.InTx], or a host's own transaction such as pgstore's
// Store.WithTx): it writes through tx and commits nothing, so the caller's
// unit of work keeps or discards the change with the rest of its work. When
// it returns an error the caller must not commit what it wrote. An error
// matching [crm.ErrUnsupported] means tx has no lead ports ([TxOf]).
func (s *Service) TransitionTx(ctx context.Context, t crm.Tx, req TransitionRequest) (*crm.Lead, *HistoryEntry, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "transition")
	if req.To == crm.LeadConverted {
		return nil, nil, fmt.Errorf("lead: transition: %w", crm.Invalid("to", "use Convert to convert a lead"))
	}
	l, h, err := s.transition(ctx, t, req)
	if err != nil {
		return nil, nil, fail("transition", req.LeadID, err)
	}
	return l, h, nil
}

func (s *Service) transition(ctx context.Context, t crm.Tx, req TransitionRequest) (*crm.Lead, *HistoryEntry, error) {
	tx, err := TxOf(t)
	if err != nil {
		return nil, nil, err
	}
	l, err := tx.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return nil, nil, err
	}
	if req.Version != 0 && req.Version != l.Version {
		return nil, nil, fmt.Errorf("lead %s is at version %d, not %d: %w", l.ID, l.Version, req.Version, crm.ErrConflict)
	}
	if err := s.cfg.Lifecycle.Check(l, req.To, req.Reason); err != nil {
		return nil, nil, err
	}
	if err := s.authorize(ctx, t, ActionTransition, req.Actor, l, req.To); err != nil {
		return nil, nil, err
	}
	h := &HistoryEntry{ID: s.cfg.IDs.NewID(), LeadID: l.ID, From: statusOf(l), To: req.To, Actor: req.Actor, At: s.cfg.Clock.Now(), Reason: strings.TrimSpace(req.Reason)}
	l.Status = req.To
	switch req.To {
	case crm.LeadDisqualified:
		l.DisqualifyReason = h.Reason
	default:
		l.DisqualifyReason = ""
	}
	if err := tx.Leads().Update(ctx, l); err != nil {
		return nil, nil, err
	}
	if err := tx.LeadHistory().Append(ctx, h); err != nil {
		return nil, nil, fmt.Errorf("append history: %w", err)
	}
	if err := s.indexLead(ctx, tx, l); err != nil {
		return nil, nil, err
	}
	if err := s.emit(ctx, tx, EventType(req.To), crm.Ref{Type: crm.TypeLead, ID: l.ID}, req.Actor, h); err != nil {
		return nil, nil, err
	}
	return l, h, nil
}

func statusOf(l *crm.Lead) crm.LeadStatus {
	if l.Status == "" {
		return crm.LeadNew
	}
	return l.Status
}

func (s *Service) emit(ctx context.Context, tx crm.Tx, typ crm.EventType, subject crm.Ref, actor crm.ID, payload any) error {
	ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, typ, subject, actor, payload)
	if err != nil {
		return err
	}
	return tx.Events().Append(ctx, &ev)
}

func wrap(op string, id crm.ID, err error) error {
	if strings.HasPrefix(err.Error(), "lead: ") {
		return err
	}
	return fmt.Errorf("lead: %s %s: %w", op, id, err)
}

// DuplicatePolicy says what a conversion does when the duplicate checker
// finds an existing customer.
type DuplicatePolicy int

// Duplicate policies.
const (
	// DuplicateRefuse refuses the conversion with a [*DuplicateError], so a
	// person can decide. This is the zero value.
	DuplicateRefuse DuplicatePolicy = iota
	// DuplicateAttach attaches the contact and opportunity to the existing
	// customer.
	DuplicateAttach
	// DuplicateCreate creates a new customer anyway.
	DuplicateCreate
)

// OpportunityDraft describes the opportunity a conversion creates.
type OpportunityDraft struct {
	// Name defaults to the customer's name.
	Name string
	// Amount is the expected value; the zero Money means "not estimated".
	Amount crm.Money
	// Stage defaults to qualification.
	Stage         crm.OpportunityStage
	Probability   int
	ExpectedClose *time.Time
}

// ConvertRequest asks to convert a lead.
type ConvertRequest struct {
	LeadID crm.ID
	// Actor is the user converting; NilID for the system. With a
	// [Config.Authorizer], a set actor must be a stored user and is asked
	// about with [ActionConvert].
	Actor crm.ID
	// CustomerID, when set, attaches to this existing customer without
	// asking the duplicate checker.
	CustomerID crm.ID
	// OnDuplicate is what to do when the checker finds a match.
	OnDuplicate DuplicatePolicy
	// Opportunity, when set, creates an opportunity too.
	Opportunity *OpportunityDraft
	// NoContact skips creating a contact (a lead without a person's name
	// never gets one).
	NoContact bool
}

// Conversion is what a conversion created or attached to.
type Conversion struct {
	Lead     *crm.Lead
	Customer *crm.Customer
	// Attached is true when Customer already existed.
	Attached bool
	// Duplicate is the checker's match, if it found one.
	Duplicate   *DuplicateMatch
	Contact     *crm.Contact
	Opportunity *crm.Opportunity
	// History is the transition stored in the lead's history.
	History *HistoryEntry
}

// ConversionPayload is the payload of an [EventLeadConverted] event: the
// history entry of the conversion (its Reason is empty) and the records it
// made or attached to.
type ConversionPayload struct {
	HistoryEntry
	CustomerID    crm.ID `json:"customer_id"`
	Attached      bool   `json:"attached,omitempty"`
	ContactID     crm.ID `json:"contact_id,omitzero"`
	OpportunityID crm.ID `json:"opportunity_id,omitzero"`
}

// Convert turns a lead into a customer (or attaches it to an existing one),
// a contact and optionally an opportunity, links the lead to them and marks
// it converted. Everything happens in one unit of work, in this order: read
// the lead, check the lifecycle, ask the [Authorizer] (when req.Actor is
// set), ask the [DuplicateChecker] (unless req.CustomerID is set) and the
// [OwnerRouter], create the customer and index it ([CustomerIndexer]),
// create the contact and opportunity, then store the lead, its history
// entry and the events. The seams work through the same unit of work, so
// what the router writes is kept only if the conversion is, and the
// duplicate check sees what the conversion commits against. A created
// customer, contact and opportunity are owned by the routed owner (or the
// lead's); the customer and opportunity belong to the routed owner's
// department when the router picked an owner who has one, else to the
// lead's.
//
// Errors: converting a converted or disqualified lead matches
// [crm.ErrFailedPrecondition]; a duplicate the request did not say how to
// handle is a [*DuplicateError] ([crm.ErrAlreadyExists]); an indexer's
// clash with a customer created meanwhile matches [crm.ErrAlreadyExists]
// too; an unknown actor is a
// [*crm.ValidationError] on "actor"; the authorizer's refusal is returned as
// it is ([crm.ErrPermissionDenied]). On any error nothing is stored. It is
// [Service.ConvertTx] in a unit of work of its own.
func (s *Service) Convert(ctx context.Context, req ConvertRequest) (*Conversion, error) {
	var out *Conversion
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.ConvertTx(ctx, tx, req)
		return err
	}, func(err error) error { return wrap("convert", req.LeadID, err) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConvertTx is [Service.Convert] inside a unit of work the caller holds
// ([crm.Store.InTx], or a host's own transaction such as pgstore's
// Store.WithTx); the seams receive tx. It commits nothing: the caller's unit
// of work keeps or discards the conversion, and what the seams wrote, with
// the rest of its work. When it returns an error the caller must not commit
// what it wrote. An error matching [crm.ErrUnsupported] means tx has no lead
// ports ([TxOf]).
func (s *Service) ConvertTx(ctx context.Context, t crm.Tx, req ConvertRequest) (*Conversion, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "convert")
	out, err := s.convert(ctx, t, req)
	if err != nil {
		return nil, fail("convert", req.LeadID, err) // a *DuplicateError passes unwrapped
	}
	return out, nil
}

func (s *Service) convert(ctx context.Context, t crm.Tx, req ConvertRequest) (*Conversion, error) {
	tx, err := TxOf(t)
	if err != nil {
		return nil, err
	}
	l, err := tx.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Lifecycle.Check(l, crm.LeadConverted, ""); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, ActionConvert, req.Actor, l, ""); err != nil {
		return nil, err
	}
	out := &Conversion{}
	attachTo := req.CustomerID
	if attachTo == crm.NilID && s.cfg.Duplicates != nil {
		m, found, err := s.cfg.Duplicates.FindCustomer(ctx, t, l)
		if err != nil {
			return nil, fmt.Errorf("duplicate check: %w", err)
		}
		if found {
			out.Duplicate = &m
			switch req.OnDuplicate {
			case DuplicateAttach:
				attachTo = m.CustomerID
			case DuplicateCreate:
			default:
				return nil, &DuplicateError{Match: m}
			}
		}
	}
	owner, dept := l.OwnerID, l.DepartmentID
	if s.cfg.Router != nil {
		o, err := s.cfg.Router.RouteOwner(ctx, t, l)
		if err != nil {
			return nil, fmt.Errorf("route owner: %w", err)
		}
		if o != crm.NilID {
			u, err := tx.Users().Get(ctx, o)
			if err != nil {
				return nil, fmt.Errorf("route owner: read routed owner %s: %w", o, err)
			}
			owner = o
			if u.DepartmentID != crm.NilID {
				dept = u.DepartmentID
			}
		}
	}
	if err := s.create(ctx, tx, req, l, attachTo, owner, dept, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CustomerDraft returns the customer a conversion of l creates, before the
// conversion gives it an ID, its creator and the routed owner and
// department: a potential company named l.Company (a person named l.Name
// when the lead has no company) with the lead's industry, region, source,
// phone and email, owned by the lead's owner in the lead's department. A
// [DuplicateChecker] matches it against stored customers. It touches no
// storage and returns a value the caller owns.
func CustomerDraft(l *crm.Lead) *crm.Customer {
	c := &crm.Customer{
		Kind: crm.CustomerCompany, Name: l.Company, Status: crm.CustomerPotential,
		Industry: l.Industry, Region: l.Region, Source: l.Source, Phone: l.Phone, Email: l.Email,
		OwnerID: l.OwnerID, DepartmentID: l.DepartmentID,
	}
	if strings.TrimSpace(l.Company) == "" {
		c.Kind, c.Name = crm.CustomerPerson, l.Name
	}
	return c
}

// create writes the records of a conversion whose checks passed.
func (s *Service) create(ctx context.Context, tx Tx, req ConvertRequest, l *crm.Lead, attachTo, owner, dept crm.ID, out *Conversion) error {
	now := s.cfg.Clock.Now()
	// The events are made where their records are and appended together
	// at the end: one round trip to the outbox instead of one per record.
	var events []*crm.Event
	event := func(typ crm.EventType, t crm.RecordType, id crm.ID, payload any) error {
		ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, typ, crm.Ref{Type: t, ID: id}, req.Actor, payload)
		if err != nil {
			return err
		}
		events = append(events, &ev)
		return nil
	}
	var c *crm.Customer
	var err error
	if attachTo != crm.NilID {
		if c, err = tx.Customers().Get(ctx, attachTo); err != nil {
			return fmt.Errorf("customer to attach to %s: %w", attachTo, err)
		}
		out.Attached = true
	} else {
		c = CustomerDraft(l)
		c.ID, c.OwnerID, c.DepartmentID, c.CreatedBy = s.cfg.IDs.NewID(), owner, dept, req.Actor
		if cc := s.cfg.Customers; cc != nil {
			if err := cc.CreateConvertedCustomer(ctx, tx, c, req.Actor); err != nil {
				return fmt.Errorf("create customer: %w", err)
			}
			// The opportunity follows the customer's department, which
			// the creator may have set to the owner's.
			dept = c.DepartmentID
		} else {
			if err := tx.Customers().Create(ctx, c); err != nil {
				return fmt.Errorf("create customer: %w", err)
			}
			if ix, ok := s.cfg.Duplicates.(CustomerIndexer); ok {
				if err := ix.IndexCustomer(ctx, tx, c.Clone()); err != nil {
					return fmt.Errorf("index customer %s: %w", c.ID, err)
				}
			}
		}
	}
	out.Customer = c
	if !req.NoContact && strings.TrimSpace(l.Name) != "" {
		ct := &crm.Contact{Meta: crm.Meta{ID: s.cfg.IDs.NewID()}, CustomerID: c.ID, Name: l.Name, Title: l.Title,
			Primary: !out.Attached, OwnerID: owner}
		if l.Phone != "" {
			ct.Phones = []string{l.Phone}
		}
		if l.Email != "" {
			ct.Emails = []string{l.Email}
		}
		if cc := s.cfg.Contacts; cc != nil {
			stored, err := cc.CreateConvertedContact(ctx, tx, ct, req.Actor)
			if err != nil {
				return fmt.Errorf("create contact: %w", err)
			}
			ct = stored
		} else {
			if err := tx.Contacts().Create(ctx, ct); err != nil {
				return fmt.Errorf("create contact: %w", err)
			}
		}
		out.Contact = ct
	}
	if d := req.Opportunity; d != nil {
		o := &crm.Opportunity{Meta: crm.Meta{ID: s.cfg.IDs.NewID()}, CustomerID: c.ID, Name: d.Name, Amount: d.Amount,
			Stage: d.Stage, Probability: d.Probability, ExpectedClose: d.ExpectedClose, OwnerID: owner, DepartmentID: dept}
		if o.Name == "" {
			o.Name = c.Name
		}
		if err := tx.Opportunities().Create(ctx, o); err != nil {
			return fmt.Errorf("create opportunity: %w", err)
		}
		out.Opportunity = o
	}
	payload := ConversionPayload{
		HistoryEntry: HistoryEntry{ID: s.cfg.IDs.NewID(), LeadID: l.ID, From: statusOf(l), To: crm.LeadConverted, Actor: req.Actor, At: now},
		CustomerID:   c.ID, Attached: out.Attached,
	}
	l.Status = crm.LeadConverted
	l.ConvertedCustomerID = c.ID
	l.ConvertedAt = &now
	if out.Contact != nil {
		l.ConvertedContactID, payload.ContactID = out.Contact.ID, out.Contact.ID
	}
	if out.Opportunity != nil {
		l.ConvertedOpportunityID, payload.OpportunityID = out.Opportunity.ID, out.Opportunity.ID
	}
	if err := tx.Leads().Update(ctx, l); err != nil {
		return err
	}
	h := payload.HistoryEntry
	if err := tx.LeadHistory().Append(ctx, &h); err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	if err := s.indexLead(ctx, tx, l); err != nil {
		return err
	}
	out.Lead, out.History = l, &h
	if err := event(EventLeadConverted, crm.TypeLead, l.ID, payload); err != nil {
		return err
	}
	return tx.Events().Append(ctx, events...)
}
