package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
)

// The domain packages never import each other: where one needs another
// (a conversion asks for duplicates, a pool claim asks for permission), it
// declares a small interface, and the host wires the concrete type in. These
// are the host's wires for the story.

// duplicates answers lead conversion and pool anti-collision from one
// dedupe index over the stored customers. A host keeps the index in step
// with its writes (here: add after every customer create).
type duplicates struct {
	index  *dedupe.Index
	policy dedupe.Policy
}

// FindCustomer implements lead.DuplicateChecker: the best candidate the
// entry policy would block or warn about.
func (d *duplicates) FindCustomer(ctx context.Context, l *crm.Lead) (lead.DuplicateMatch, bool, error) {
	cands, err := d.index.Check(dedupe.Record{Values: []string{l.Company, "", l.Phone, l.Email, ""}})
	if err != nil {
		return lead.DuplicateMatch{}, false, err
	}
	action, best := d.policy.Decide(cands)
	if action == dedupe.Allow {
		return lead.DuplicateMatch{}, false, nil
	}
	id, err := crm.ParseID("candidate.id", best.ID)
	if err != nil {
		return lead.DuplicateMatch{}, false, err
	}
	return lead.DuplicateMatch{CustomerID: id, Score: best.Score, Reason: agreed(best.Reasons)}, true, nil
}

// Duplicates implements pool.DuplicateChecker: the customers c may
// duplicate, so a claim of a copy of someone else's customer is refused.
func (d *duplicates) Duplicates(ctx context.Context, tx crm.Tx, c *crm.Customer) ([]crm.ID, error) {
	cands, err := d.index.Check(dedupe.CustomerRecord(c))
	if err != nil {
		return nil, err
	}
	var out []crm.ID
	for _, cand := range cands {
		if cand.Class != dedupe.Match {
			continue
		}
		id, err := crm.ParseID("candidate.id", cand.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, nil
}

// agreed names the fields that agreed, e.g. "company exact, phone exact".
func agreed(reasons []dedupe.Reason) string {
	var parts []string
	for _, r := range reasons {
		if r.Weight > 0 {
			parts = append(parts, r.Field+" "+r.Level.String())
		}
	}
	return strings.Join(parts, ", ")
}

// authorizer lets the pool ask the permission policy, after the pool's own
// membership rules: a claim needs the policy's claim grant on customers in
// that pool.
type authorizer struct {
	policy *permission.Policy
	pool   pool.DefaultAuthorizer
}

// Authorize implements pool.Authorizer.
func (a *authorizer) Authorize(ctx context.Context, tx crm.Tx, acc *pool.Access) error {
	if err := a.pool.Authorize(ctx, tx, acc); err != nil {
		return err
	}
	action := permission.ActionEdit
	switch acc.Action {
	case pool.ActionClaim:
		action = permission.ActionClaim
	case pool.ActionAssign, pool.ActionTransfer:
		action = permission.ActionAssign
	case pool.ActionSeeOwner:
		action = permission.ActionView
	}
	if acc.Customer == nil {
		return nil
	}
	s := a.policy.Subject(acc.Actor)
	r := permission.CustomerResource(acc.Customer, crm.NilID)
	if d := a.policy.Check(&s, action, &r); !d.Allowed {
		return fmt.Errorf("%s: %w", acc.Action, d.Err())
	}
	return nil
}

// decimalOf parses a decimal written in the source.
func decimalOf(s string) decimal.Decimal { return decimal.RequireFromString(s) }
