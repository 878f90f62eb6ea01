package crmkit

import (
	"context"
	"errors"
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
)

// historyMasker masks history for a viewer with the CRM's permission
// policy: the fields of a record type the viewer may not view
// ([permission.Policy.Hidden]), every field of a type the viewer may not
// view at all.
type historyMasker struct {
	store crm.Store
	s     *seams
}

// Hidden implements [history.Masker]. An unknown viewer sees nothing.
func (m historyMasker) Hidden(ctx context.Context, viewer crm.ID, rt crm.RecordType) (func(string) bool, error) {
	p := m.s.compiledPolicy()
	if p == nil {
		// An authorizer of the host's own says yes or no to records, not
		// to fields: the history of a type it grants is shown whole.
		return nil, nil
	}
	u, err := m.store.Users().Get(ctx, viewer)
	if errors.Is(err, crm.ErrNotFound) {
		return func(string) bool { return true }, nil
	}
	if err != nil {
		return nil, fmt.Errorf("crmkit: history viewer %s: %w", viewer, err)
	}
	s := p.Subject(u)
	return p.Hidden(&s, rt, permission.ActionView), nil
}
