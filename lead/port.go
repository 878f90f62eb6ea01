package lead

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// Tx is the set of storage ports the lead package needs from a unit of work.
// An adapter supports lead storage when the [crm.Tx] it passes to
// [crm.Store.InTx] also implements Tx (memstore and pgstore do); [Service]
// reports [crm.ErrUnsupported] otherwise. Method names carry a "Lead" prefix
// so one adapter type can implement the ports of several domain packages.
//
// Every port follows the contract of [crm.Store]: tenancy comes from the
// context ([crm.WithTenant]) and a record of another tenant is invisible;
// values are copied in and out, so nothing a caller holds aliases stored
// data; times are stored as [crm.StorageTime]; a method called with a done
// context returns the context's error (wrapped) and a unit of work whose
// context ends before it commits keeps nothing.
type Tx interface {
	crm.Tx
	// LeadHistory stores the lifecycle transitions of leads.
	LeadHistory() HistoryStore
	// LeadScores stores each lead's latest score under each model.
	LeadScores() ScoreStore
	// LeadScoringModels stores rule-based scoring models ([Model] JSON).
	LeadScoringModels() ModelStore
	// LeadPredictors stores predictive models ([Predictor] JSON).
	LeadPredictors() ModelStore
}

// TxOf returns tx as a lead [Tx], or an error matching [crm.ErrUnsupported]
// when the adapter has no lead ports.
func TxOf(tx crm.Tx) (Tx, error) {
	if lt, ok := tx.(Tx); ok {
		return lt, nil
	}
	lt, ok := crm.As[Tx](tx)
	if !ok {
		return nil, fmt.Errorf("lead: storage adapter %T has no lead ports: %w", tx, crm.ErrUnsupported)
	}
	return joinedTx{Tx: tx, ports: lt}, nil
}

// joinedTx is a wrapped unit of work seen as a lead [Tx]: the shared
// records through the wrapper, so a recording wrapper (package history)
// sees every write, and the lead ports of the adapter inside it.
type joinedTx struct {
	crm.Tx
	ports Tx
}

// LeadHistory implements [Tx].
func (j joinedTx) LeadHistory() HistoryStore { return j.ports.LeadHistory() }

// LeadScores implements [Tx].
func (j joinedTx) LeadScores() ScoreStore { return j.ports.LeadScores() }

// LeadScoringModels implements [Tx].
func (j joinedTx) LeadScoringModels() ModelStore { return j.ports.LeadScoringModels() }

// LeadPredictors implements [Tx].
func (j joinedTx) LeadPredictors() ModelStore { return j.ports.LeadPredictors() }

// Unwrap implements [crm.TxWrapper].
func (j joinedTx) Unwrap() crm.Tx { return j.Tx }

// HistoryStore is the append-only history of lead transitions.
type HistoryStore interface {
	// Append validates and stores e ([*crm.ValidationError] naming the
	// field, nothing stored); e.ID must be set and unused, else
	// [crm.ErrAlreadyExists]. At is stored as [crm.StorageTime] and written
	// back into e. The lead itself is not read: history outlives a deleted
	// lead.
	Append(ctx context.Context, e *HistoryEntry) error
	// List returns one page of the lead's entries in ID order (the order
	// they were appended in for UUIDv7 IDs), after page.Cursor. An unknown
	// lead has an empty history, not [crm.ErrNotFound]. The entries are
	// copies the caller owns.
	List(ctx context.Context, leadID crm.ID, page crm.PageRequest) (crm.Page[HistoryEntry], error)
}

// ScoreSnapshot is a lead's latest score under one scoring model: what
// [Model.Score] returned, for which model version and when. Hosts sort and
// filter leads by it without rescoring them.
type ScoreSnapshot struct {
	LeadID crm.ID `json:"lead_id"`
	// ModelID names the model; a lead has one snapshot per model ID, of
	// whichever ModelVersion scored it last.
	ModelID      string `json:"model_id"`
	ModelVersion int    `json:"model_version"`
	// TenantID is set by the store from the context.
	TenantID   string         `json:"tenant_id,omitempty"`
	Fit        float64        `json:"fit"`
	Engagement float64        `json:"engagement"`
	Total      float64        `json:"total"`
	Grade      string         `json:"grade"`
	Stage      crm.LeadStatus `json:"stage,omitempty"`
	ComputedAt time.Time      `json:"computed_at"`
	// RoseAt is when the lead's grade rose to its current grade under the
	// model ([Model.Rises]): [Service.ScoreLead] sets it to the scoring
	// time on a rise, keeps it while the grade stays, and clears it when
	// the grade changes any other way (a lead that rose and fell again is
	// no longer rising). Zero when the current grade was not reached by a
	// rise. [Service.Rising] lists leads by it.
	RoseAt time.Time `json:"rose_at,omitzero"`
	// RoseFrom is the grade the lead rose from at RoseAt: empty when
	// RoseAt is zero, or when the rise was the lead's first snapshot under
	// the model.
	RoseFrom string `json:"rose_from,omitempty"`
	// Version is the optimistic-concurrency version, owned by the store: 0
	// for a snapshot not stored yet.
	Version int64 `json:"version"`
}

// Result returns the score part of the snapshot.
func (s *ScoreSnapshot) Result() Result {
	return Result{Fit: s.Fit, Engagement: s.Engagement, Total: s.Total, Grade: s.Grade, Stage: s.Stage}
}

// Validate reports every problem of the snapshot as [crm.ValidationErrors].
// Adapters call it before storing one.
func (s *ScoreSnapshot) Validate() error {
	var probs crm.Problems
	if s.LeadID == crm.NilID {
		probs.Add("lead_id", "is required")
	}
	if err := checkDocumentID("model_id", s.ModelID); err != nil {
		probs.Merge(err)
	}
	if s.ModelVersion < 1 {
		probs.Add("model_version", "must be at least 1, got %d", s.ModelVersion)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"fit", s.Fit}, {"engagement", s.Engagement}, {"total", s.Total}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			probs.Add(f.name, "must be a finite number")
		}
	}
	if len(s.Grade) > 8 || !utf8.ValidString(s.Grade) || strings.IndexByte(s.Grade, 0) >= 0 {
		probs.Add("grade", "must be valid text of at most 8 bytes")
	}
	if s.Stage != "" && !s.Stage.Valid() {
		probs.Add("stage", "unknown lead status %q", truncate(string(s.Stage), 64))
	}
	if s.ComputedAt.IsZero() {
		probs.Add("computed_at", "is required")
	}
	switch {
	case len(s.RoseFrom) > 8 || !utf8.ValidString(s.RoseFrom) || strings.IndexByte(s.RoseFrom, 0) >= 0:
		probs.Add("rose_from", "must be valid text of at most 8 bytes")
	case s.RoseFrom != "" && s.RoseAt.IsZero():
		probs.Add("rose_from", "is set without rose_at")
	}
	if s.Version < 0 {
		probs.Add("version", "must not be negative")
	}
	return probs.Err()
}

// ScoreStore keeps one [ScoreSnapshot] per lead and model ID.
type ScoreStore interface {
	// Get returns a copy of the lead's snapshot under model modelID, or
	// [crm.ErrNotFound].
	Get(ctx context.Context, leadID crm.ID, modelID string) (*ScoreSnapshot, error)
	// Save validates and stores s as the lead's snapshot under s.ModelID
	// (compare-and-swap on Version): with Version 0 it creates the
	// snapshot, or returns [crm.ErrConflict] when one exists; otherwise
	// Version must equal the stored version ([crm.ErrConflict] if not,
	// [crm.ErrNotFound] if there is none). It sets TenantID from the
	// context, increments Version and writes both, and the stored
	// ComputedAt and RoseAt, back into s. Of many concurrent saves with
	// the same Version exactly one succeeds. An adapter with a
	// [RisingQueue] places the snapshot in that queue by the lead's
	// current owner, department and status, and moves it when they change.
	Save(ctx context.Context, s *ScoreSnapshot) error
	// List returns the lead's snapshots, one per model, ordered by model
	// ID. The list is bounded by the number of models, so it is not paged.
	List(ctx context.Context, leadID crm.ID) ([]*ScoreSnapshot, error)
}

// MaxModelDocumentSize is the largest model document a [ModelStore] accepts.
const MaxModelDocumentSize = 16 << 20

// ModelDocument is one stored version of a model: its ID, version and JSON.
type ModelDocument struct {
	// ID names the model: 1 to 128 bytes of printable text.
	ID string `json:"id"`
	// Version is 1 or more. A stored version is immutable.
	Version int `json:"version"`
	// Data is the model's JSON ([Model.MarshalJSON] or the JSON of a
	// [Predictor]), at most [MaxModelDocumentSize] bytes.
	Data json.RawMessage `json:"data"`
	// CreatedAt is set by the store when the version is first stored.
	CreatedAt time.Time `json:"created_at"`
}

// Validate reports every problem of the document as [crm.ValidationErrors].
// Adapters call it before storing one.
func (d *ModelDocument) Validate() error {
	var probs crm.Problems
	if err := checkDocumentID("id", d.ID); err != nil {
		probs.Merge(err)
	}
	if d.Version < 1 {
		probs.Add("version", "must be at least 1, got %d", d.Version)
	}
	switch {
	case len(d.Data) == 0:
		probs.Add("data", "is required")
	case len(d.Data) > MaxModelDocumentSize:
		probs.Add("data", "is %d bytes, more than %d", len(d.Data), MaxModelDocumentSize)
	case !json.Valid(d.Data):
		probs.Add("data", "is not valid JSON")
	}
	return probs.Err()
}

func checkDocumentID(field, id string) *crm.ValidationError {
	if id == "" || len(id) > 128 || !utf8.ValidString(id) || strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return crm.Invalid(field, "must be 1 to 128 bytes of printable text, got %q", truncate(id, 64))
	}
	return nil
}

// ModelStore stores versions of models by ID. A version, once stored, never
// changes.
type ModelStore interface {
	// Put validates and stores d. Storing a version that exists with the
	// same Data (byte for byte) succeeds and changes nothing; with different
	// Data it is [crm.ErrAlreadyExists]. The stored CreatedAt is written
	// back into d.
	Put(ctx context.Context, d *ModelDocument) error
	// Get returns a copy of version of model id, or of its highest version
	// when version is 0; [crm.ErrNotFound] if there is none, a
	// [*crm.ValidationError] on "version" when it is negative.
	Get(ctx context.Context, id string, version int) (*ModelDocument, error)
	// List returns up to limit (1 to [crm.MaxPageLimit]) versions of model
	// id above version after, ascending. Fewer than limit means there are
	// no more.
	List(ctx context.Context, id string, after, limit int) ([]*ModelDocument, error)
}

// Validate reports every problem of the entry as [crm.ValidationErrors].
// Adapters call it before appending one.
func (e *HistoryEntry) Validate() error {
	var probs crm.Problems
	if e.ID == crm.NilID {
		probs.Add("id", "is required")
	}
	if e.LeadID == crm.NilID {
		probs.Add("lead_id", "is required")
	}
	if !e.From.Valid() {
		probs.Add("from", "unknown lead status %q", truncate(string(e.From), 64))
	}
	if !e.To.Valid() {
		probs.Add("to", "unknown lead status %q", truncate(string(e.To), 64))
	}
	if e.At.IsZero() {
		probs.Add("at", "is required")
	}
	if len(e.Reason) > maxReason || !utf8.ValidString(e.Reason) || strings.IndexByte(e.Reason, 0) >= 0 {
		probs.Add("reason", "must be valid text without NUL bytes, at most %d bytes", maxReason)
	}
	return probs.Err()
}

// maxReason bounds a transition's reason.
const maxReason = 2000
