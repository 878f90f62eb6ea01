package crm

import (
	"strings"
	"time"
)

// OpportunityStage is where a deal stands in the sales pipeline.
type OpportunityStage string

// Pipeline stages. Won and Lost are closed; the others are open.
const (
	StageQualification OpportunityStage = "qualification"
	StageNeedsAnalysis OpportunityStage = "needs_analysis"
	StageProposal      OpportunityStage = "proposal"
	StageNegotiation   OpportunityStage = "negotiation"
	StageWon           OpportunityStage = "won"
	StageLost          OpportunityStage = "lost"
)

// Valid reports whether s is a stage of the built-in pipeline: one of
// the six constants above.
func (s OpportunityStage) Valid() bool {
	switch s {
	case StageQualification, StageNeedsAnalysis, StageProposal, StageNegotiation, StageWon, StageLost:
		return true
	}
	return false
}

// Open reports whether the stage is not closed (neither won nor lost).
// It knows the built-in stages only; an opportunity of a configured
// pipeline is open while its ClosedAt is unset ([Opportunity.IsOpen]).
func (s OpportunityStage) Open() bool { return s != StageWon && s != StageLost }

// WellFormed reports whether s may name a stage of a configured pipeline:
// an identifier of lower-case ASCII letters, digits and underscores,
// starting with a letter, at most 64 characters. Every built-in stage is
// well formed.
func (s OpportunityStage) WellFormed() bool { return IsIdentifier(string(s)) }

// IsIdentifier reports whether s is a lower-case identifier: ASCII
// letters a-z, digits and underscores, starting with a letter, 1 to 64
// characters. Pipeline keys, configured stage names and lost reasons are
// identifiers.
func IsIdentifier(s string) bool {
	if s == "" || len(s) > maxShort || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Opportunity is a potential deal with a customer. Safe for concurrent reads.
type Opportunity struct {
	Meta
	CustomerID ID     `json:"customer_id"`
	Name       string `json:"name"`
	// Amount is the expected deal value; the zero Money means "not yet
	// estimated".
	Amount Money `json:"amount"`
	// Stage is where the deal stands: one of the built-in stages when
	// Pipeline is empty, otherwise a stage of that pipeline (any
	// well-formed name here; package pipeline checks membership when it
	// moves the deal).
	Stage OpportunityStage `json:"stage"`
	// Pipeline is the key of the configured pipeline the deal runs in
	// (package pipeline); empty means the built-in pipeline of the six
	// stage constants.
	Pipeline string `json:"pipeline,omitempty"`
	// LostReason says why a lost deal was lost: an identifier from the
	// list its lost stage configures. Package pipeline sets it on a move
	// to a lost stage and clears it on a move anywhere else.
	LostReason string `json:"lost_reason,omitempty"`
	// Probability is the chance of winning, 0 to 100.
	Probability int `json:"probability"`
	// ExpectedClose is the expected closing date (stored as a time at
	// midnight UTC of that date is conventional, but any time is kept).
	ExpectedClose *time.Time `json:"expected_close,omitempty"`
	ClosedAt      *time.Time `json:"closed_at,omitempty"`
	OwnerID       ID         `json:"owner_id,omitzero"`
	DepartmentID  ID         `json:"department_id,omitzero"`
	Fields        Fields     `json:"fields,omitempty"`
}

// IsOpen reports whether the deal is still open: it has no ClosedAt and,
// in the built-in pipeline, its stage is neither won nor lost.
func (o *Opportunity) IsOpen() bool {
	return o.ClosedAt == nil && (o.Pipeline != "" || o.Stage.Open())
}

// RecordType returns [TypeOpportunity].
func (*Opportunity) RecordType() RecordType { return TypeOpportunity }

// Clone returns a deep copy.
func (o *Opportunity) Clone() *Opportunity {
	out := *o
	out.ExpectedClose = clonePtr(o.ExpectedClose)
	out.ClosedAt = clonePtr(o.ClosedAt)
	out.Fields = o.Fields.Clone()
	return &out
}

// Normalise defaults the stage of a deal in the built-in pipeline and
// brings times to storage precision.
func (o *Opportunity) Normalise() {
	if o.Stage == "" && o.Pipeline == "" {
		o.Stage = StageQualification
	}
	o.ExpectedClose = storageTimePtr(o.ExpectedClose)
	o.ClosedAt = storageTimePtr(o.ClosedAt)
}

// Validate reports every invalid field.
func (o *Opportunity) Validate() error {
	var v Problems
	o.Meta.validate(&v)
	if o.CustomerID == NilID {
		v.Add("customer_id", "is required")
	}
	if strings.TrimSpace(o.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", o.Name, maxName)
	}
	switch {
	case o.Pipeline != "" && !IsIdentifier(o.Pipeline):
		v.Add("pipeline", "must be a lower-case identifier (a-z, 0-9, _; at most 64), got %q", truncate(o.Pipeline, 32))
	case o.Pipeline == "" && o.Stage != "" && !o.Stage.Valid():
		v.Add("stage", "unknown stage %q", truncate(string(o.Stage), 32))
	case o.Pipeline != "" && o.Stage == "":
		v.Add("stage", "is required in pipeline %q", o.Pipeline)
	case o.Pipeline != "" && !o.Stage.WellFormed():
		v.Add("stage", "must be a lower-case identifier (a-z, 0-9, _; at most 64), got %q", truncate(string(o.Stage), 32))
	}
	if o.LostReason != "" && !IsIdentifier(o.LostReason) {
		v.Add("lost_reason", "must be a lower-case identifier (a-z, 0-9, _; at most 64), got %q", truncate(o.LostReason, 32))
	}
	if o.Probability < 0 || o.Probability > 100 {
		v.Add("probability", "must be between 0 and 100, got %d", o.Probability)
	}
	if o.Amount.IsNegative() {
		v.Add("amount", "must not be negative")
	}
	v.Prefix = "amount."
	v.Merge(o.Amount.Validate())
	v.Prefix = "fields."
	v.Merge(o.Fields.Validate())
	return v.Err()
}
