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

// Valid reports whether s is a known stage.
func (s OpportunityStage) Valid() bool {
	switch s {
	case StageQualification, StageNeedsAnalysis, StageProposal, StageNegotiation, StageWon, StageLost:
		return true
	}
	return false
}

// Open reports whether the stage is not closed (neither won nor lost).
func (s OpportunityStage) Open() bool { return s != StageWon && s != StageLost }

// Opportunity is a potential deal with a customer. Safe for concurrent reads.
type Opportunity struct {
	Meta
	CustomerID ID     `json:"customer_id"`
	Name       string `json:"name"`
	// Amount is the expected deal value; the zero Money means "not yet
	// estimated".
	Amount Money            `json:"amount"`
	Stage  OpportunityStage `json:"stage"`
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

// Normalise defaults the stage and brings times to storage precision.
func (o *Opportunity) Normalise() {
	if o.Stage == "" {
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
	if o.Stage != "" && !o.Stage.Valid() {
		v.Add("stage", "unknown stage %q", truncate(string(o.Stage), 32))
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
