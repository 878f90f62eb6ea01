package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/crmkit/crmkit/crm"
)

// EventStageChanged is written when [Service.Move] moves a deal to
// another stage; its payload is a [StageChangedPayload].
const EventStageChanged crm.EventType = "opportunity.stage_changed"

// StageChangedPayload is the payload of [EventStageChanged].
type StageChangedPayload struct {
	Pipeline    string               `json:"pipeline,omitempty"`
	From        crm.OpportunityStage `json:"from"`
	To          crm.OpportunityStage `json:"to"`
	Kind        Kind                 `json:"kind"`
	Probability int                  `json:"probability"`
	LostReason  string               `json:"lost_reason,omitempty"`
	// ClosedAt is set when the move closed the deal.
	ClosedAt *time.Time `json:"closed_at,omitempty"`
}

// Catalog gives the pipelines of the tenant of a context.
type Catalog interface {
	Pipelines(ctx context.Context) (*Set, error)
}

// Tenants is a [Catalog] of fixed sets by tenant ID; a tenant without a
// set has the built-in pipeline only.
type Tenants map[string]*Set

// Pipelines returns the set of the context's tenant.
func (t Tenants) Pipelines(ctx context.Context) (*Set, error) {
	if s, ok := t[crm.TenantFrom(ctx)]; ok && s != nil {
		return s, nil
	}
	return NewSet()
}

// Config configures a [Service]. The zero value and nil are valid.
type Config struct {
	// Catalog gives each tenant's pipelines. Defaults to the built-in
	// pipeline only.
	Catalog Catalog
	Clock   crm.Clock
	IDs     crm.IDGenerator
}

// Service moves deals through their pipelines and reads the pipelines'
// figures. It is safe for concurrent use and starts no goroutines.
type Service struct {
	store crm.Store
	cfg   Config
}

// New returns a service over store.
func New(store crm.Store, cfg *Config) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("pipeline: new: %w", crm.Invalid("store", "is required"))
	}
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.Catalog == nil {
		c.Catalog = Tenants{}
	}
	if c.Clock == nil {
		c.Clock = crm.SystemClock{}
	}
	if c.IDs == nil {
		c.IDs = crm.UUIDv7{Clock: c.Clock}
	}
	return &Service{store: store, cfg: c}, nil
}

// Pipeline returns the pipeline of key of the context's tenant; an
// unknown key is a [*crm.ValidationError] on "pipeline".
func (s *Service) Pipeline(ctx context.Context, key string) (*Pipeline, error) {
	set, err := s.cfg.Catalog.Pipelines(ctx)
	if err != nil {
		return nil, fmt.Errorf("pipeline: pipelines of tenant: %w", err)
	}
	p, ok := set.Pipeline(key)
	if !ok {
		return nil, crm.Invalid("pipeline", "tenant has no pipeline %q", clip(key))
	}
	return p, nil
}

// MoveRequest asks to move a deal to another stage of its pipeline.
type MoveRequest struct {
	OpportunityID crm.ID
	// To is the target stage. Required.
	To crm.OpportunityStage
	// Actor is the user who moves the deal (NilID: the system).
	Actor crm.ID
	// LostReason is required by a move to a lost stage, from that stage's
	// list, and refused by any other move.
	LostReason string
	// Probability overrides the stage's default probability in an open
	// stage (0 to 100); won and lost stages fix it at 100 and 0.
	Probability *int
	// Version, when not 0, must be the deal's stored version, else
	// [crm.ErrConflict].
	Version int64
}

// Move moves a deal to another stage of its pipeline in one unit of
// work:
//
//   - the target stage must be in the deal's pipeline and differ from its
//     stage ("to");
//   - the deal must have every field the target stage requires, each
//     missing one named ("amount", "fields.budget");
//   - a lost stage takes a reason from its list ("lost_reason");
//   - the deal's Stage and Probability (the stage's default unless
//     req.Probability gives one) are set; reaching a won or lost stage
//     sets ClosedAt to now, and a move to an open stage (reopening)
//     clears ClosedAt and LostReason;
//   - the stay in the old stage is left and one in the new stage entered,
//     at now by req.Actor (a deal without history first gets a stay in
//     its old stage entered at its CreatedAt);
//   - an [EventStageChanged] event is written.
//
// It returns the updated deal. Bad input is a [*crm.ValidationError]
// naming the field and nothing is written. Move asks no permission
// policy: a host with one moves deals through crmkit.CRM.MoveOpportunity.
func (s *Service) Move(ctx context.Context, req MoveRequest) (*crm.Opportunity, error) {
	var out *crm.Opportunity
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.MoveTx(ctx, tx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MoveTx is [Service.Move] inside tx, a unit of work the caller holds:
// the deal, its stays and the event commit with whatever else the caller
// writes, or none of it. The deal's row is written (with its version
// checked) before its history is read, so concurrent moves of one deal
// queue on it: a move that read the deal before another committed fails
// with [crm.ErrConflict], and the history stays one chain of stays. On
// error the caller must roll back.
func (s *Service) MoveTx(ctx context.Context, tx crm.Tx, req MoveRequest) (*crm.Opportunity, error) {
	o, err := s.move(ctx, tx, req)
	if err != nil {
		return nil, fmt.Errorf("pipeline: move %s: %w", req.OpportunityID, err)
	}
	return o, nil
}

func (s *Service) move(ctx context.Context, tx crm.Tx, req MoveRequest) (*crm.Opportunity, error) {
	ptx, ok := crm.As[Tx](tx)
	if !ok {
		return nil, fmt.Errorf("stage history: %w", crm.ErrUnsupported)
	}
	if req.OpportunityID == crm.NilID {
		return nil, crm.Invalid("opportunity_id", "is required")
	}
	o, err := tx.Opportunities().Get(ctx, req.OpportunityID)
	if err != nil {
		return nil, err
	}
	if req.Version != 0 && req.Version != o.Version {
		return nil, fmt.Errorf("%w: opportunity is at version %d, not %d", crm.ErrConflict, o.Version, req.Version)
	}
	p, err := s.Pipeline(ctx, o.Pipeline)
	if err != nil {
		return nil, err
	}
	to, err := check(p, o, req)
	if err != nil {
		return nil, err
	}
	now := crm.StorageTime(s.cfg.Clock.Now())
	from := o.Stage
	o.Stage, o.Probability, o.LostReason = to.Name, to.Probability, ""
	if req.Probability != nil {
		o.Probability = *req.Probability
	}
	if to.Kind == KindLost {
		o.LostReason = req.LostReason
	}
	if to.Kind.Closed() {
		o.ClosedAt = &now
	} else {
		o.ClosedAt = nil
	}
	if err := tx.Opportunities().Update(ctx, o); err != nil {
		return nil, err
	}
	if err := s.record(ctx, ptx.StageHistory(), o, from, now, req.Actor); err != nil {
		return nil, err
	}
	ev, err := crm.NewEvent(s.cfg.IDs, s.cfg.Clock, EventStageChanged, crm.Ref{Type: crm.TypeOpportunity, ID: o.ID}, req.Actor,
		StageChangedPayload{Pipeline: o.Pipeline, From: from, To: o.Stage, Kind: to.Kind, Probability: o.Probability,
			LostReason: o.LostReason, ClosedAt: o.ClosedAt})
	if err != nil {
		return nil, err
	}
	if err := tx.Events().Append(ctx, &ev); err != nil {
		return nil, err
	}
	return o, nil
}

// check returns the target stage of a move of o, or every problem of it.
func check(p *Pipeline, o *crm.Opportunity, req MoveRequest) (Stage, error) {
	var v crm.Problems
	to, ok := p.Stage(req.To)
	switch {
	case req.To == "":
		v.Add("to", "is required")
	case !ok:
		v.Add("to", "pipeline %q has no stage %q", p.Key, clip(string(req.To)))
	case req.To == o.Stage:
		v.Add("to", "the opportunity is already in stage %q", req.To)
	}
	if !ok {
		return to, v.Err()
	}
	for _, f := range to.Required {
		if !has(o, f) {
			v.Add(f, "is required to enter stage %q", to.Name)
		}
	}
	switch {
	case to.Kind == KindLost && req.LostReason == "":
		v.Add("lost_reason", "is required to enter the lost stage %q: one of %v", to.Name, to.LostReasons)
	case to.Kind == KindLost && !contains(to.LostReasons, req.LostReason):
		v.Add("lost_reason", "%q is not a lost reason of stage %q: one of %v", clip(req.LostReason), to.Name, to.LostReasons)
	case to.Kind != KindLost && req.LostReason != "":
		v.Add("lost_reason", "only a move to a lost stage takes a reason")
	}
	if pr := req.Probability; pr != nil {
		switch {
		case *pr < 0 || *pr > 100:
			v.Add("probability", "must be between 0 and 100, got %d", *pr)
		case to.Kind.Closed() && *pr != to.Probability:
			v.Add("probability", "is fixed at %d in the %s stage %q", to.Probability, to.Kind, to.Name)
		}
	}
	return to, v.Err()
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// has reports whether o has the requirable field f.
func has(o *crm.Opportunity, f string) bool {
	switch f {
	case "amount":
		return !o.Amount.IsZero()
	case "expected_close":
		return o.ExpectedClose != nil
	case "owner_id":
		return o.OwnerID != crm.NilID
	case "department_id":
		return o.DepartmentID != crm.NilID
	}
	key := f[len("fields."):]
	v, ok := o.Fields[key]
	if !ok {
		return false
	}
	if str, ok := v.Str(); ok {
		return str != ""
	}
	if _, ok := v.List(); ok {
		return v.Len() > 0
	}
	return true
}

// record leaves the deal's current stay and enters the new one.
func (s *Service) record(ctx context.Context, h StageHistory, o *crm.Opportunity, from crm.OpportunityStage, now time.Time, actor crm.ID) error {
	stays, err := h.List(ctx, o.ID)
	if err != nil {
		return err
	}
	seq := len(stays)
	if seq == 0 {
		entered := o.CreatedAt
		if entered.After(now) {
			entered = now
		}
		first := &StageEntry{OpportunityID: o.ID, Seq: 1, Pipeline: o.Pipeline, Stage: from, EnteredAt: entered, First: true}
		if err := h.Append(ctx, first); err != nil {
			return err
		}
		seq = 1
	} else {
		seq = stays[len(stays)-1].Seq
	}
	if err := h.Leave(ctx, o.ID, now, actor); err != nil {
		return err
	}
	first := true
	for _, st := range stays {
		first = first && st.Stage != o.Stage
	}
	return h.Append(ctx, &StageEntry{OpportunityID: o.ID, Seq: seq + 1, Pipeline: o.Pipeline, Stage: o.Stage,
		EnteredAt: now, EnteredBy: actor, First: first})
}

// Start stores a new deal in its pipeline and enters its first stay in
// one unit of work: the deal is made ready as [Service.Prepare] makes it
// (its stage and probability defaulted and checked), stored, and its stay
// entered at the deal's CreatedAt by actor. o is updated as stored (its
// stage, probability, version and times). Bad input is a
// [*crm.ValidationError] naming the field and nothing is written. Start
// asks no permission policy: a host with one starts deals through
// crmkit.CRM.StartOpportunity.
func (s *Service) Start(ctx context.Context, o *crm.Opportunity, actor crm.ID) error {
	return s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
		return s.StartTx(ctx, tx, o, actor)
	})
}

// StartTx is [Service.Start] inside tx, a unit of work the caller holds:
// the deal and its first stay commit with whatever else the caller
// writes, or none of it. On error the caller must roll back (o may then
// hold the defaults Prepare gave it).
func (s *Service) StartTx(ctx context.Context, tx crm.Tx, o *crm.Opportunity, actor crm.ID) error {
	fail := func(err error) error { return fmt.Errorf("pipeline: start: %w", err) }
	ptx, ok := crm.As[Tx](tx)
	if !ok {
		return fail(fmt.Errorf("stage history: %w", crm.ErrUnsupported))
	}
	if err := s.prepare(ctx, o); err != nil {
		return fail(err)
	}
	if err := tx.Opportunities().Create(ctx, o); err != nil {
		return fail(err)
	}
	err := ptx.StageHistory().Append(ctx, &StageEntry{OpportunityID: o.ID, Seq: 1, Pipeline: o.Pipeline, Stage: o.Stage,
		EnteredAt: o.CreatedAt, EnteredBy: actor, First: true})
	if err != nil {
		return fail(err)
	}
	return nil
}

// Prepare makes o the new deal [Service.Start] would store, writing
// nothing: an empty Stage becomes the first open stage of o's pipeline
// and a zero Probability the stage's default. The stage must be an open
// stage of the pipeline ("stage") and o must have every field it
// requires, each missing one named ("amount", "fields.budget"); an
// unknown pipeline is a [*crm.ValidationError] on "pipeline". A caller
// that decides on the deal as it will be stored (a permission policy
// reading its stage) prepares it first; Start prepares it again, which
// changes nothing.
func (s *Service) Prepare(ctx context.Context, o *crm.Opportunity) error {
	if err := s.prepare(ctx, o); err != nil {
		return fmt.Errorf("pipeline: prepare: %w", err)
	}
	return nil
}

func (s *Service) prepare(ctx context.Context, o *crm.Opportunity) error {
	if o == nil {
		return crm.Invalid("opportunity", "is required")
	}
	p, err := s.Pipeline(ctx, o.Pipeline)
	if err != nil {
		return err
	}
	if o.Stage == "" {
		o.Stage = p.First().Name
	}
	st, ok := p.Stage(o.Stage)
	var v crm.Problems
	switch {
	case !ok:
		v.Add("stage", "pipeline %q has no stage %q", p.Key, clip(string(o.Stage)))
	case st.Kind != KindOpen:
		v.Add("stage", "a deal starts in an open stage, not the %s stage %q", st.Kind, st.Name)
	default:
		for _, f := range st.Required {
			if !has(o, f) {
				v.Add(f, "is required to enter stage %q", st.Name)
			}
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	if o.Probability == 0 {
		o.Probability = st.Probability
	}
	return nil
}

// History returns the stays of a deal in order; an unknown deal is
// [crm.ErrNotFound]. It asks no permission policy: a host with one reads
// them through crmkit.CRM.OpportunityHistory.
func (s *Service) History(ctx context.Context, opportunityID crm.ID) ([]StageEntry, error) {
	var out []StageEntry
	err := s.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = s.HistoryTx(ctx, tx, opportunityID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HistoryTx is [Service.History] inside tx, a unit of work the caller
// holds.
func (s *Service) HistoryTx(ctx context.Context, tx crm.Tx, opportunityID crm.ID) ([]StageEntry, error) {
	fail := func(err error) ([]StageEntry, error) {
		return nil, fmt.Errorf("pipeline: history of %s: %w", opportunityID, err)
	}
	ptx, ok := crm.As[Tx](tx)
	if !ok {
		return fail(fmt.Errorf("stage history: %w", crm.ErrUnsupported))
	}
	if _, err := tx.Opportunities().Get(ctx, opportunityID); err != nil {
		return fail(err)
	}
	out, err := ptx.StageHistory().List(ctx, opportunityID)
	if err != nil {
		return fail(err)
	}
	return out, nil
}

var errNoAnalytics = errors.New("pipeline analytics")
