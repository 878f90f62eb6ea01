package lead

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/crmkit/crmkit/crm"
)

// inTx runs fn in one unit of work with the lead ports.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.store.InTx(ctx, func(ctx context.Context, t crm.Tx) error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		return fn(ctx, tx)
	})
}

// History returns one page of the lead's transitions, oldest first.
func (s *Service) History(ctx context.Context, leadID crm.ID, page crm.PageRequest) (crm.Page[HistoryEntry], error) {
	var out crm.Page[HistoryEntry]
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = tx.LeadHistory().List(ctx, leadID, page)
		return err
	})
	if err != nil {
		return crm.Page[HistoryEntry]{}, wrap("history", leadID, err)
	}
	return out, nil
}

// SaveModel stores m as version m.Version() of scoring model m.ID(). Saving
// a version again with the same content changes nothing, even when the
// stored document spells it differently (a migration rewrote it); with
// different content it is refused with [crm.ErrAlreadyExists], since a
// stored version is immutable (publish a new version instead). It is
// [Service.SaveModelTx] in a unit of work of its own.
func (s *Service) SaveModel(ctx context.Context, m *Model) error {
	return s.run(ctx, func(ctx context.Context, tx crm.Tx) error { return s.SaveModelTx(ctx, tx, m) },
		func(err error) error { return fmt.Errorf("lead: save model: %w", err) })
}

// SaveModelTx is [Service.SaveModel] inside a unit of work the caller holds
// ([crm.Store.InTx], or a host's own transaction such as pgstore's
// Store.WithTx); it commits nothing. An error matching [crm.ErrUnsupported]
// means tx has no lead ports ([TxOf]).
func (s *Service) SaveModelTx(ctx context.Context, t crm.Tx, m *Model) error {
	if m == nil {
		return fmt.Errorf("lead: save model: %w", crm.Invalid("model", "is required"))
	}
	data, err := m.MarshalJSON()
	if err != nil {
		return fmt.Errorf("lead: save model %q: %w", m.id, err)
	}
	err = func() error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		err = tx.LeadScoringModels().Put(ctx, &ModelDocument{ID: m.id, Version: m.version, Data: data})
		if errors.Is(err, crm.ErrAlreadyExists) && s.storedAs(ctx, tx, m) {
			return nil
		}
		return err
	}()
	if err != nil {
		return fmt.Errorf("lead: save model %q version %d: %w", m.id, m.version, err)
	}
	return nil
}

// storedAs reports whether the stored version of m, whose bytes differ
// from m's, holds the same model: its specification, compiled and encoded
// again, is m's.
func (s *Service) storedAs(ctx context.Context, tx Tx, m *Model) bool {
	d, err := tx.LeadScoringModels().Get(ctx, m.id, m.version)
	if err != nil {
		return false
	}
	stored, err := ParseModel(d.Data)
	return err == nil && bytes.Equal(stored.raw, m.raw)
}

// LoadModel returns version of stored scoring model id, or its highest
// version when version is 0; [crm.ErrNotFound] if there is none.
func (s *Service) LoadModel(ctx context.Context, id string, version int) (*Model, error) {
	var m *Model
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		m, err = s.loadModel(ctx, tx, id, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

func (s *Service) loadModel(ctx context.Context, tx Tx, id string, version int) (*Model, error) {
	d, err := tx.LeadScoringModels().Get(ctx, id, version)
	if err != nil {
		return nil, fmt.Errorf("lead: load model %q version %d: %w", truncate(id, 64), version, err)
	}
	m, err := s.models.compile(crm.TenantFrom(ctx), d)
	if err != nil {
		return nil, fmt.Errorf("lead: load model %q version %d: stored document: %w", truncate(id, 64), d.Version, err)
	}
	return m, nil
}

// maxCachedModels bounds the compiled models a Service keeps.
const maxCachedModels = 64

// modelCache keeps compiled scoring models by tenant, ID and version, so
// scoring a lead with a stored model does not parse and validate its JSON
// every time (that costs milliseconds; scoring, a microsecond). An entry is
// used only while the stored document is byte for byte the one compiled, so
// a version changed behind the store's back is compiled again. Safe for
// concurrent use.
type modelCache struct {
	mu      sync.Mutex
	entries map[modelKey]cachedModel
}

type modelKey struct {
	tenant, id string
	version    int
}

type cachedModel struct {
	data  []byte
	model *Model
}

// compile returns the model of d, compiling it on a miss. d.Data must not
// change afterwards (store ports return copies the caller owns).
func (c *modelCache) compile(tenant string, d *ModelDocument) (*Model, error) {
	k := modelKey{tenant: tenant, id: d.ID, version: d.Version}
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && bytes.Equal(e.data, d.Data) {
		return e.model, nil
	}
	m, err := ParseModel(d.Data)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxCachedModels {
		c.entries = make(map[modelKey]cachedModel) // a full reset is simple and rare: hosts use a few models
	}
	c.entries[k] = cachedModel{data: d.Data, model: m}
	return m, nil
}

// SavePredictor stores p as version of predictive model id, with the same
// immutability as [Service.SaveModel]. It is [Service.SavePredictorTx] in a
// unit of work of its own.
func (s *Service) SavePredictor(ctx context.Context, id string, version int, p *Predictor) error {
	return s.run(ctx, func(ctx context.Context, tx crm.Tx) error { return s.SavePredictorTx(ctx, tx, id, version, p) },
		func(err error) error {
			return fmt.Errorf("lead: save predictor %q version %d: %w", truncate(id, 64), version, err)
		})
}

// SavePredictorTx is [Service.SavePredictor] inside a unit of work the
// caller holds ([crm.Store.InTx], or a host's own transaction such as
// pgstore's Store.WithTx); it commits nothing. An error matching
// [crm.ErrUnsupported] means tx has no lead ports ([TxOf]).
func (s *Service) SavePredictorTx(ctx context.Context, t crm.Tx, id string, version int, p *Predictor) error {
	if p == nil {
		return fmt.Errorf("lead: save predictor: %w", crm.Invalid("predictor", "is required"))
	}
	data, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("lead: save predictor %q: %w", truncate(id, 64), err)
	}
	err = func() error {
		tx, err := TxOf(t)
		if err != nil {
			return err
		}
		return tx.LeadPredictors().Put(ctx, &ModelDocument{ID: id, Version: version, Data: data})
	}()
	if err != nil {
		return fmt.Errorf("lead: save predictor %q version %d: %w", truncate(id, 64), version, err)
	}
	return nil
}

// LoadPredictor returns version of stored predictive model id, or its
// highest version when version is 0; [crm.ErrNotFound] if there is none.
func (s *Service) LoadPredictor(ctx context.Context, id string, version int) (*Predictor, error) {
	var d *ModelDocument
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		d, err = tx.LeadPredictors().Get(ctx, id, version)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lead: load predictor %q version %d: %w", truncate(id, 64), version, err)
	}
	p, err := LoadPredictor(d.Data)
	if err != nil {
		return nil, fmt.Errorf("lead: load predictor %q version %d: stored document: %w", truncate(id, 64), d.Version, err)
	}
	return p, nil
}

// ScoreRequest asks to score a lead with a stored scoring model.
type ScoreRequest struct {
	LeadID crm.ID
	// ModelID names the stored model; ModelVersion picks a version, 0 the
	// highest.
	ModelID      string
	ModelVersion int
	// Events are the lead's engagement events; the host keeps them (web
	// analytics, email tool, call log) and passes them in.
	Events []Engagement
	// Actor is the user asking for the score; NilID for the system (a
	// nightly rescoring). With a [Config.Authorizer], a set actor must be a
	// stored user and is asked about with [ActionScore]; it is also the
	// actor of the [EventLeadRegraded] event.
	Actor crm.ID
}

// scoreAttempts bounds how often ScoreLead recomputes a snapshot that a
// concurrent scoring of the same lead replaced meanwhile.
const scoreAttempts = 3

// ScoreLead scores a lead with a stored model as of the service clock's
// time and saves the result as the lead's snapshot under that model, reading
// the lead and the model and writing the snapshot in one unit of work. When
// the lead's first snapshot under the model is stored, or its grade or
// suggested stage changes, an [EventLeadRegraded] event is written in the
// same unit of work, so hosts can tell sales about leads that became hot
// without an event for every unchanged nightly rescoring. When the grade
// rises ([Model.Rises]) the snapshot's RoseAt is the scoring time, which
// puts the lead at the top of the rising-leads queue ([Service.Rising]);
// an unchanged grade keeps RoseAt, any other change clears it. A
// snapshot replaced concurrently is recomputed in a new unit of work (a few
// times at most, then [crm.ErrConflict]), so the newest score wins. The
// service keeps the compiled models it loaded (up to 64, by tenant, ID and
// version), so only the first scoring with a version pays for parsing it.
// Errors: [crm.ErrNotFound] for an unknown lead or model, a
// [*crm.ValidationError] on "actor" for an unknown actor, the
// [Authorizer]'s refusal as it is ([crm.ErrPermissionDenied]). It is
// [Service.ScoreLeadTx] in a unit of work of its own, retried on conflict.
func (s *Service) ScoreLead(ctx context.Context, req ScoreRequest) (*ScoreSnapshot, error) {
	var out *ScoreSnapshot
	var err error
	for attempt := 0; attempt < scoreAttempts; attempt++ {
		err = s.run(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
			out, err = s.ScoreLeadTx(ctx, tx, req)
			return err
		}, func(err error) error { return wrap("score", req.LeadID, err) })
		if err == nil || !errors.Is(err, crm.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ScoreLeadTx is [Service.ScoreLead] inside a unit of work the caller holds
// ([crm.Store.InTx], or a host's own transaction such as pgstore's
// Store.WithTx), tried once: a snapshot replaced concurrently is
// [crm.ErrConflict], which the caller may retry in a new unit of work. It
// commits nothing. An error matching [crm.ErrUnsupported] means tx has no
// lead ports ([TxOf]).
func (s *Service) ScoreLeadTx(ctx context.Context, t crm.Tx, req ScoreRequest) (*ScoreSnapshot, error) {
	ctx = crm.DefaultActor(ctx, req.Actor, "score")
	out, err := s.scoreLead(ctx, t, req)
	if err != nil {
		return nil, fail("score", req.LeadID, err)
	}
	return out, nil
}

func (s *Service) scoreLead(ctx context.Context, t crm.Tx, req ScoreRequest) (*ScoreSnapshot, error) {
	tx, err := TxOf(t)
	if err != nil {
		return nil, err
	}
	l, err := tx.Leads().Get(ctx, req.LeadID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(ctx, t, ActionScore, req.Actor, l, ""); err != nil {
		return nil, err
	}
	m, err := s.loadModel(ctx, tx, req.ModelID, req.ModelVersion)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Clock.Now()
	r := m.Score(l, req.Events, now)
	snap := &ScoreSnapshot{LeadID: l.ID, ModelID: m.id, ModelVersion: m.version,
		Fit: r.Fit, Engagement: r.Engagement, Total: r.Total, Grade: r.Grade, Stage: r.Stage, ComputedAt: now}
	old, err := tx.LeadScores().Get(ctx, l.ID, m.id)
	switch {
	case err == nil:
		snap.Version = old.Version
	case errors.Is(err, crm.ErrNotFound):
		old = nil
	default:
		return nil, err
	}
	rose := m.riseOf(old, snap)
	if err := tx.LeadScores().Save(ctx, snap); err != nil {
		return nil, err
	}
	if old == nil || old.Grade != snap.Grade || old.Stage != snap.Stage {
		p := RegradedPayload{ModelID: m.id, ModelVersion: m.version, Grade: snap.Grade, Stage: snap.Stage, Total: snap.Total,
			Rose: rose}
		if old != nil {
			p.PreviousGrade, p.PreviousStage = old.Grade, old.Stage
		}
		if err := s.emit(ctx, tx, EventLeadRegraded, crm.Ref{Type: crm.TypeLead, ID: l.ID}, req.Actor, p); err != nil {
			return nil, err
		}
	}
	return snap, nil
}

// EventLeadRegraded is written by [Service.ScoreLead] when a lead's grade
// or suggested stage under a model changes (or is first computed). Its
// payload is a [RegradedPayload]; its actor is the request's (the system
// when none is given).
const EventLeadRegraded crm.EventType = "lead.regraded"

// RegradedPayload is the payload of [EventLeadRegraded]. The previous grade
// and stage are empty for a lead's first snapshot under the model.
type RegradedPayload struct {
	ModelID       string         `json:"model_id"`
	ModelVersion  int            `json:"model_version"`
	Grade         string         `json:"grade"`
	PreviousGrade string         `json:"previous_grade,omitempty"`
	Stage         crm.LeadStatus `json:"stage,omitempty"`
	PreviousStage crm.LeadStatus `json:"previous_stage,omitempty"`
	Total         float64        `json:"total"`
	// Rose reports that the grade rose ([Model.Rises]): the lead is now at
	// the top of the rising-leads queue ([Service.Rising]).
	Rose bool `json:"rose,omitempty"`
}

// Scores returns the lead's stored snapshots, one per model, ordered by
// model ID.
func (s *Service) Scores(ctx context.Context, leadID crm.ID) ([]*ScoreSnapshot, error) {
	var out []*ScoreSnapshot
	err := s.inTx(ctx, func(ctx context.Context, tx Tx) (err error) {
		out, err = tx.LeadScores().List(ctx, leadID)
		return err
	})
	if err != nil {
		return nil, wrap("scores", leadID, err)
	}
	return out, nil
}
