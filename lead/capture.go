package lead

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// CaptureDecision is what a capture does with a lead that may duplicate
// stored leads or customers.
type CaptureDecision uint8

// Capture decisions, from the mildest.
const (
	// CaptureAllow stores the lead: nothing it duplicates.
	CaptureAllow CaptureDecision = iota
	// CaptureWarn stores the lead and reports its duplicates.
	CaptureWarn
	// CaptureBlock refuses the lead with a [*CaptureBlockedError].
	CaptureBlock
)

// String returns "allow", "warn" or "block".
func (d CaptureDecision) String() string {
	switch d {
	case CaptureWarn:
		return "warn"
	case CaptureBlock:
		return "block"
	}
	return "allow"
}

// CaptureDuplicate is a stored open lead or a customer that a captured
// lead may duplicate. Exactly one of LeadID and CustomerID is set.
type CaptureDuplicate struct {
	// LeadID is the open lead it duplicates.
	LeadID crm.ID `json:"lead_id,omitzero"`
	// CustomerID is the customer it duplicates.
	CustomerID crm.ID `json:"customer_id,omitzero"`
	// OwnerID is who holds that lead or customer, as far as the capturing
	// actor may see: crm.NilID when nobody does or when the actor may not
	// learn who (the duplicate is reported all the same).
	OwnerID crm.ID `json:"owner_id,omitzero"`
	// OwnerHidden is set when there is an owner the actor may not see.
	OwnerHidden bool `json:"owner_hidden,omitempty"`
	// Score is the match weight in bits.
	Score float64 `json:"score"`
	// Strong is set when the duplicate is the same company (or person and
	// phone) as the lead, whatever its score.
	Strong bool `json:"strong,omitempty"`
	// Reason names the fields that agreed, e.g. "company exact, phone exact".
	Reason string `json:"reason,omitempty"`
}

// String describes the duplicate without naming anything hidden.
func (d CaptureDuplicate) String() string {
	what := "lead " + d.LeadID.String()
	if d.CustomerID != crm.NilID {
		what = "customer " + d.CustomerID.String()
	}
	switch {
	case d.OwnerID != crm.NilID:
		what += " owned by user " + d.OwnerID.String()
	case d.OwnerHidden:
		what += " held by a colleague"
	}
	return what
}

// CaptureCheck is a [CaptureChecker]'s answer: the decision and the
// duplicates behind it, best first.
type CaptureCheck struct {
	Decision   CaptureDecision
	Duplicates []CaptureDuplicate
}

// CaptureChecker checks a lead being captured against the stored open
// leads and customers, and keeps the match keys of the leads it lets in.
// The dedupe package implements it through crmkit's composition root, with
// the capture policy and the owner masking. [Service.CaptureTx] asks it
// inside the capture's unit of work, before the lead is stored. An
// implementation must:
//
//   - decide (allow, warn, block) and, unless it blocks, record the lead's
//     match keys through tx, so that of two concurrent captures of one lead
//     the later one sees the earlier;
//   - write nothing when it blocks;
//   - report a customer's owner only as far as actor may see it (the lead
//     package masks the owners of leads itself: [Service.OwnerVisibleTx]).
//
// When it also implements [LeadIndexer], the leads that transitions and
// conversions change are indexed too. Implementations must be safe for
// concurrent use and must not change l.
type CaptureChecker interface {
	// CheckCapture decides on l (ID set, not stored yet) captured by actor
	// (crm.NilID for the system). An error fails the capture, which then
	// keeps nothing.
	CheckCapture(ctx context.Context, tx crm.Tx, l *crm.Lead, actor crm.ID) (CaptureCheck, error)
}

// LeadIndexer keeps the match keys of a lead in step with it after a
// transition or a conversion: an open lead keeps its keys, a converted or
// disqualified one loses them, a reopened one gets them back. [Service]
// finds it on [Config.Capture] by type assertion and calls it in the
// operation's unit of work. Implementations must be safe for concurrent
// use and must not change l.
type LeadIndexer interface {
	IndexLead(ctx context.Context, tx crm.Tx, l *crm.Lead) error
}

// CaptureBlockedError reports that a capture was refused because the lead
// duplicates a stored open lead or a customer. It matches
// [crm.ErrAlreadyExists]. The owners in it are masked for the actor.
type CaptureBlockedError struct {
	// Duplicates are the duplicates found, best first; the first blocked.
	Duplicates []CaptureDuplicate
}

// Error implements error.
func (e *CaptureBlockedError) Error() string {
	if len(e.Duplicates) == 0 {
		return "lead: capture blocked as a duplicate"
	}
	return fmt.Sprintf("lead: capture blocked: duplicates %s", e.Duplicates[0])
}

// Is reports whether target is [crm.ErrAlreadyExists].
func (e *CaptureBlockedError) Is(target error) bool { return target == crm.ErrAlreadyExists }

// CaptureRequest asks to capture a new lead (a web form, a trade-show
// scan, a salesperson's entry).
type CaptureRequest struct {
	// Lead is the new lead. Required. An ID of crm.NilID gets one from the
	// configured generator; an empty status is new, and a capture takes
	// open leads only (not converted, not disqualified). CreatedBy is set
	// to Actor. req.Lead is not modified.
	Lead *crm.Lead
	// Actor is the user capturing it; crm.NilID for the system (a web
	// form). With a [Config.Authorizer] a set actor must be a stored user
	// and is asked about with [ActionCapture].
	Actor crm.ID
}

// Captured is a stored lead and the duplicates it was let in with.
type Captured struct {
	// Lead is the stored lead, a copy the caller owns.
	Lead *crm.Lead
	// Decision is CaptureAllow, or CaptureWarn when the checker warned
	// about Duplicates.
	Decision CaptureDecision
	// Duplicates are the duplicates warned about, best first, owners masked
	// for the actor.
	Duplicates []CaptureDuplicate
}

// Capture stores a new lead in one unit of work; see [Service.CaptureTx].
func (s *Service) Capture(ctx context.Context, req CaptureRequest) (*Captured, error) {
	var out *Captured
	err := s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.CaptureTx(ctx, tx, req)
		return err
	}, func(err error) error { return fmt.Errorf("lead: capture: %w", err) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CaptureTx validates a new lead, asks the [Authorizer] (when req.Actor is
// set), asks the [CaptureChecker] ([Config.Capture]) whether it duplicates
// a stored open lead or a customer, and unless that blocks, stores it,
// inside the caller's unit of work (a recording unit of work appends its
// lead.created change event). A blocked capture
// is a [*CaptureBlockedError] (matching [crm.ErrAlreadyExists]) naming
// the duplicates and, as far as the actor may see, their owners; bad input
// is a [*crm.ValidationError] naming the field ("lead", "lead.status",
// "name" ...); the authorizer's refusal is returned as it is. Without a
// checker every valid lead is stored. When it returns an error the caller
// must not commit what it wrote.
func (s *Service) CaptureTx(ctx context.Context, t crm.Tx, req CaptureRequest) (*Captured, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "capture")
	out, err := s.capture(ctx, t, req)
	if err != nil {
		var be *CaptureBlockedError
		if errors.As(err, &be) {
			return nil, be
		}
		return nil, fail("capture", idOf(req.Lead), err)
	}
	return out, nil
}

func idOf(l *crm.Lead) crm.ID {
	if l == nil {
		return crm.NilID
	}
	return l.ID
}

func (s *Service) capture(ctx context.Context, t crm.Tx, req CaptureRequest) (*Captured, error) {
	if req.Lead == nil {
		return nil, crm.Invalid("lead", "is required")
	}
	tx, err := TxOf(t)
	if err != nil {
		return nil, err
	}
	l := req.Lead.Clone()
	if l.ID == crm.NilID {
		l.ID = s.cfg.IDs.NewID()
	}
	l.Version = 0
	l.CreatedBy = req.Actor
	l.Normalise()
	if !Open(l) {
		return nil, crm.Invalid("lead.status", "a captured lead is open, got %q", l.Status)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, ActionCapture, req.Actor, l, ""); err != nil {
		return nil, err
	}
	out := &Captured{}
	if s.cfg.Capture != nil {
		check, err := s.cfg.Capture.CheckCapture(ctx, t, l.Clone(), req.Actor)
		if err != nil {
			return nil, fmt.Errorf("duplicate check: %w", err)
		}
		dups, err := s.maskLeadOwners(ctx, t, req.Actor, check.Duplicates)
		if err != nil {
			return nil, fmt.Errorf("duplicate check: %w", err)
		}
		switch check.Decision {
		case CaptureBlock:
			return nil, &CaptureBlockedError{Duplicates: dups}
		case CaptureWarn:
			out.Decision, out.Duplicates = CaptureWarn, dups
		}
	}
	if err := tx.Leads().Create(ctx, l); err != nil {
		return nil, err
	}
	out.Lead = l
	return out, nil
}

// maskLeadOwners hides the owners of duplicate leads that actor may not
// see ([Service.OwnerVisibleTx]).
func (s *Service) maskLeadOwners(ctx context.Context, t crm.Tx, actor crm.ID, dups []CaptureDuplicate) ([]CaptureDuplicate, error) {
	out := make([]CaptureDuplicate, len(dups))
	copy(out, dups)
	for i := range out {
		d := &out[i]
		if d.LeadID == crm.NilID || d.OwnerID == crm.NilID {
			continue
		}
		other, err := t.Leads().Get(ctx, d.LeadID)
		if err != nil {
			return nil, fmt.Errorf("read duplicate lead %s: %w", d.LeadID, err)
		}
		ok, err := s.OwnerVisibleTx(ctx, t, actor, other)
		if err != nil {
			return nil, err
		}
		if !ok {
			d.OwnerID, d.OwnerHidden = crm.NilID, true
		}
	}
	return out, nil
}

// OwnerVisibleTx reports whether actor may learn who owns the stored lead
// l: the system (crm.NilID) and the owner always may; anyone else must
// manage the lead's department or one above it, and, with a
// [Config.Authorizer], be allowed [ActionSeeOwner] on the lead. It reads
// the departments through tx and writes nothing.
func (s *Service) OwnerVisibleTx(ctx context.Context, tx crm.Tx, actor crm.ID, l *crm.Lead) (bool, error) {
	if actor == crm.NilID || actor == l.OwnerID || l.OwnerID == crm.NilID {
		return true, nil
	}
	ok, err := manages(ctx, tx, actor, l.DepartmentID)
	if err != nil || !ok {
		return false, err
	}
	err = s.authorize(ctx, tx, ActionSeeOwner, actor, l, "")
	var r *refusal
	switch {
	case errors.As(err, &r):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// manages reports whether user manages dept or a department above it.
func manages(ctx context.Context, tx crm.Tx, user, dept crm.ID) (bool, error) {
	for depth := 0; dept != crm.NilID && depth < 1000; depth++ {
		d, err := tx.Departments().Get(ctx, dept)
		if errors.Is(err, crm.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if d.ManagerID == user {
			return true, nil
		}
		dept = d.ParentID
	}
	return false, nil
}

// indexLead tells the [LeadIndexer], if any, that l changed.
func (s *Service) indexLead(ctx context.Context, tx crm.Tx, l *crm.Lead) error {
	ix, ok := s.cfg.Capture.(LeadIndexer)
	if !ok {
		return nil
	}
	if err := ix.IndexLead(ctx, tx, l.Clone()); err != nil {
		return fmt.Errorf("index lead %s: %w", l.ID, err)
	}
	return nil
}
