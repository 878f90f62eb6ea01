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
// dedupe package (or a host's own matcher) implements it. Implementations
// must be safe for concurrent use and must not write.
type DuplicateChecker interface {
	// FindCustomer returns the best matching customer and true, or false
	// when the lead matches none.
	FindCustomer(ctx context.Context, l *crm.Lead) (DuplicateMatch, bool, error)
}

// DuplicateMatch is a customer a lead appears to duplicate.
type DuplicateMatch struct {
	CustomerID crm.ID  `json:"customer_id"`
	Score      float64 `json:"score,omitempty"`
	Reason     string  `json:"reason,omitempty"`
}

// OwnerRouter decides who should own what a converted lead becomes. The
// workflow package's routing (or a host's own rule) implements it.
type OwnerRouter interface {
	// RouteOwner returns the owner's user ID, or crm.NilID to keep the
	// lead's owner.
	RouteOwner(ctx context.Context, l *crm.Lead) (crm.ID, error)
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
	// Duplicates is asked before a conversion creates a customer. Defaults
	// to nil: no duplicate check.
	Duplicates DuplicateChecker
	// Router picks the owner of converted records. Defaults to nil: the
	// lead's owner.
	Router OwnerRouter
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

// TransitionRequest asks to move a lead to another status.
type TransitionRequest struct {
	LeadID crm.ID
	To     crm.LeadStatus
	// Actor is the user making the change; NilID for the system.
	Actor crm.ID
	// Reason explains the change; required to disqualify or reopen.
	Reason string
	// Version, when non-zero, must equal the lead's current version, so a
	// decision made on a stale read is refused with crm.ErrConflict.
	Version int64
}

// Transition moves a lead to req.To if the lifecycle allows it, stores the
// lead, its history entry and its event (whose payload is the returned
// [HistoryEntry]) in one unit of work, and returns the updated lead. Converting goes through
// [Service.Convert]. Errors: [crm.ErrNotFound], [crm.ErrConflict], a
// [*crm.ValidationError] for bad input, a [*TransitionError] for a move the
// lifecycle refuses.
func (s *Service) Transition(ctx context.Context, req TransitionRequest) (*crm.Lead, *HistoryEntry, error) {
	if req.To == crm.LeadConverted {
		return nil, nil, fmt.Errorf("lead: transition: %w", crm.Invalid("to", "use Convert to convert a lead"))
	}
	var out *crm.Lead
	var entry *HistoryEntry
	err := s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		l, err := tx.Leads().Get(ctx, req.LeadID)
		if err != nil {
			return err
		}
		if req.Version != 0 && req.Version != l.Version {
			return fmt.Errorf("lead %s is at version %d, not %d: %w", l.ID, l.Version, req.Version, crm.ErrConflict)
		}
		if err := s.cfg.Lifecycle.Check(l, req.To, req.Reason); err != nil {
			return err
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
			return err
		}
		if err := tx.LeadHistory().Append(ctx, h); err != nil {
			return fmt.Errorf("append history: %w", err)
		}
		if err := s.emit(ctx, tx, EventType(req.To), crm.Ref{Type: crm.TypeLead, ID: l.ID}, req.Actor, h); err != nil {
			return err
		}
		out, entry = l, h
		return nil
	})
	if err != nil {
		return nil, nil, wrap("transition", req.LeadID, err)
	}
	return out, entry, nil
}

func statusOf(l *crm.Lead) crm.LeadStatus {
	if l.Status == "" {
		return crm.LeadNew
	}
	return l.Status
}

func (s *Service) emit(ctx context.Context, tx crm.Tx, typ string, subject crm.Ref, actor crm.ID, payload any) error {
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
	Actor  crm.ID
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

// ConversionPayload is the payload of the lead.converted event.
type ConversionPayload struct {
	HistoryEntry
	CustomerID    crm.ID `json:"customer_id"`
	Attached      bool   `json:"attached,omitempty"`
	ContactID     crm.ID `json:"contact_id,omitzero"`
	OpportunityID crm.ID `json:"opportunity_id,omitzero"`
}

// Convert turns a lead into a customer (or attaches it to an existing one),
// a contact and optionally an opportunity, links the lead to them and marks
// it converted, all in one unit of work with their events and the lead's
// history entry. The duplicate
// checker and the owner router are asked first, outside the unit of work.
// Converting a converted or disqualified lead is refused with an error
// matching [crm.ErrFailedPrecondition]; a duplicate the request did not say
// how to handle with a [*DuplicateError] ([crm.ErrAlreadyExists]). On any
// error nothing is stored.
func (s *Service) Convert(ctx context.Context, req ConvertRequest) (*Conversion, error) {
	l, err := s.store.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return nil, wrap("convert", req.LeadID, err)
	}
	if err := s.cfg.Lifecycle.Check(l, crm.LeadConverted, ""); err != nil {
		return nil, wrap("convert", req.LeadID, err)
	}
	attachTo := req.CustomerID
	var dup *DuplicateMatch
	if attachTo == crm.NilID && s.cfg.Duplicates != nil {
		m, found, err := s.cfg.Duplicates.FindCustomer(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("lead: convert %s: duplicate check: %w", l.ID, err)
		}
		if found {
			dup = &m
			switch req.OnDuplicate {
			case DuplicateAttach:
				attachTo = m.CustomerID
			case DuplicateCreate:
			default:
				return nil, &DuplicateError{Match: m}
			}
		}
	}
	owner := l.OwnerID
	if s.cfg.Router != nil {
		o, err := s.cfg.Router.RouteOwner(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("lead: convert %s: route owner: %w", l.ID, err)
		}
		if o != crm.NilID {
			owner = o
		}
	}
	var out *Conversion
	err = s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		out = &Conversion{Duplicate: dup}
		return s.convert(ctx, tx, req, attachTo, owner, out)
	})
	if err != nil {
		return nil, wrap("convert", req.LeadID, err)
	}
	return out, nil
}

func (s *Service) convert(ctx context.Context, tx Tx, req ConvertRequest, attachTo, owner crm.ID, out *Conversion) error {
	l, err := tx.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return err
	}
	// Re-check inside the unit of work: the lead may have changed since.
	if err := s.cfg.Lifecycle.Check(l, crm.LeadConverted, ""); err != nil {
		return err
	}
	now := s.cfg.Clock.Now()
	ref := func(t crm.RecordType, id crm.ID) crm.Ref { return crm.Ref{Type: t, ID: id} }
	var c *crm.Customer
	if attachTo != crm.NilID {
		if c, err = tx.Customers().Get(ctx, attachTo); err != nil {
			return fmt.Errorf("customer to attach to %s: %w", attachTo, err)
		}
		out.Attached = true
	} else {
		c = &crm.Customer{
			Meta: crm.Meta{ID: s.cfg.IDs.NewID()}, Kind: crm.CustomerCompany, Name: l.Company,
			Industry: l.Industry, Region: l.Region, Source: l.Source, Phone: l.Phone, Email: l.Email,
			OwnerID: owner, DepartmentID: l.DepartmentID, CreatedBy: req.Actor,
		}
		if strings.TrimSpace(l.Company) == "" {
			c.Kind, c.Name = crm.CustomerPerson, l.Name
		}
		if err := tx.Customers().Create(ctx, c); err != nil {
			return fmt.Errorf("create customer: %w", err)
		}
		if err := s.emit(ctx, tx, crm.EventCustomerCreated, ref(crm.TypeCustomer, c.ID), req.Actor, nil); err != nil {
			return err
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
		if err := tx.Contacts().Create(ctx, ct); err != nil {
			return fmt.Errorf("create contact: %w", err)
		}
		if err := s.emit(ctx, tx, crm.EventContactCreated, ref(crm.TypeContact, ct.ID), req.Actor, nil); err != nil {
			return err
		}
		out.Contact = ct
	}
	if d := req.Opportunity; d != nil {
		o := &crm.Opportunity{Meta: crm.Meta{ID: s.cfg.IDs.NewID()}, CustomerID: c.ID, Name: d.Name, Amount: d.Amount,
			Stage: d.Stage, Probability: d.Probability, ExpectedClose: d.ExpectedClose, OwnerID: owner, DepartmentID: l.DepartmentID}
		if o.Name == "" {
			o.Name = c.Name
		}
		if err := tx.Opportunities().Create(ctx, o); err != nil {
			return fmt.Errorf("create opportunity: %w", err)
		}
		if err := s.emit(ctx, tx, crm.EventOpportunityCreated, ref(crm.TypeOpportunity, o.ID), req.Actor, nil); err != nil {
			return err
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
	out.Lead, out.History = l, &h
	return s.emit(ctx, tx, EventLeadConverted, ref(crm.TypeLead, l.ID), req.Actor, payload)
}
