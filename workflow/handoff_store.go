package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/crmkit/crmkit/crm"
)

// HandoffState is where a record stands in a hand-off [Machine], as
// stored: its stage and every move that brought it there.
type HandoffState struct {
	// Machine is the machine's name; Record the record it moves.
	Machine string  `json:"machine"`
	Record  crm.Ref `json:"record"`
	// Stage is the record's current stage; History its moves, oldest
	// first.
	Stage   string    `json:"stage"`
	History []Handoff `json:"history,omitempty"`
	// Version counts stored changes, for optimistic locking: 0 before the
	// state is first stored. UpdatedAt is set by the store.
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Clone returns a deep copy of s.
func (s *HandoffState) Clone() *HandoffState {
	c := *s
	c.History = slices.Clone(s.History)
	return &c
}

// maxHandoffName bounds machine and stage names in storage.
const maxHandoffName = 200

// CheckStorable reports whether s can be stored, naming the bad field.
// Adapters call it before writing.
func (s *HandoffState) CheckStorable() error {
	var errs crm.ValidationErrors
	name := func(field, v string) {
		switch {
		case v == "":
			errs = append(errs, &crm.ValidationError{Field: field, Reason: "is required"})
		case len(v) > maxHandoffName || !utf8.ValidString(v):
			errs = append(errs, &crm.ValidationError{Field: field, Reason: fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxHandoffName)})
		}
	}
	name("machine", s.Machine)
	name("stage", s.Stage)
	if s.Record.Type == "" {
		errs = append(errs, &crm.ValidationError{Field: "record.type", Reason: "is required"})
	}
	if s.Record.ID == crm.NilID {
		errs = append(errs, &crm.ValidationError{Field: "record.id", Reason: "is required"})
	}
	if s.Version < 0 {
		errs = append(errs, &crm.ValidationError{Field: "version", Reason: "must not be negative"})
	}
	for i, h := range s.History {
		if h.Actor == crm.NilID || h.At.IsZero() || h.From == "" || h.To == "" {
			errs = append(errs, &crm.ValidationError{Field: fmt.Sprintf("history[%d]", i), Reason: "needs from, to, actor and at"})
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// HandoffStore keeps records' hand-off states. Implementations are bound
// to a unit of work ([Tx.Handoffs]).
type HandoffStore interface {
	// GetHandoff returns record's state in the machine named machine, or
	// an error matching [crm.ErrNotFound].
	GetHandoff(ctx context.Context, machine string, record crm.Ref) (*HandoffState, error)
	// PutHandoff stores s. A state with Version 0 is created (an error
	// matching [crm.ErrAlreadyExists] when one is stored); otherwise the
	// stored version must equal s.Version ([crm.ErrConflict] if not,
	// [crm.ErrNotFound] if nothing is stored). On success s.Version and
	// s.UpdatedAt hold the stored values.
	PutHandoff(ctx context.Context, s *HandoffState) error
}

// HandoffTx is what [Machine.MoveTx] needs of a unit of work: the
// hand-off port and the outbox. [Tx] satisfies it.
type HandoffTx interface {
	Handoffs() HandoffStore
	Events() crm.EventWriter
}

// MoveTx moves the record with ID record inside the unit of work tx: it
// reads the record's stored state (a record never moved starts at the
// machine's initial stage with no history), checks the move with
// [Machine.Transition], stores the new stage and history and appends the
// move's event ([Outcome.Event]), so all of it commits with whatever else
// the host writes in tx, or none of it. mv.Stage and mv.History are
// ignored: they come from the store. A concurrent move of the same record
// makes one of them fail with an error matching [crm.ErrConflict].
func (m *Machine) MoveTx(ctx context.Context, tx HandoffTx, ids crm.IDGenerator, record crm.ID, mv *Move) (*Outcome, error) {
	switch {
	case tx == nil || ids == nil:
		return nil, crm.Invalid("tx", "a unit of work and an id generator are required")
	case record == crm.NilID:
		return nil, crm.Invalid("record_id", "is required")
	case mv == nil:
		return nil, crm.Invalid("move", "is required")
	}
	ref := crm.Ref{Type: m.spec.RecordType, ID: record}
	st, err := tx.Handoffs().GetHandoff(ctx, m.spec.Name, ref)
	switch {
	case errors.Is(err, crm.ErrNotFound):
		st = &HandoffState{Machine: m.spec.Name, Record: ref, Stage: m.spec.Initial}
	case err != nil:
		return nil, fmt.Errorf("workflow: %s: read hand-off state: %w", m.spec.Name, err)
	}
	move := *mv
	move.Stage, move.History = st.Stage, st.History
	out, err := m.Transition(&move)
	if err != nil {
		return nil, err
	}
	ev, err := out.Event(ids, record)
	if err != nil {
		return nil, err
	}
	next := st.Clone()
	next.Stage, next.History = out.Stage, out.History
	if err := tx.Handoffs().PutHandoff(ctx, next); err != nil {
		return nil, fmt.Errorf("workflow: %s: store hand-off state: %w", m.spec.Name, err)
	}
	if err := tx.Events().Append(ctx, &ev); err != nil {
		return nil, fmt.Errorf("workflow: %s: append %s: %w", m.spec.Name, ev.Type, err)
	}
	return out, nil
}
