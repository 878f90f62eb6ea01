package crmkit

import (
	"context"
	"fmt"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/dedupe"
	"github.com/crmkit/crmkit/history"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pipeline"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/remind"
	"github.com/crmkit/crmkit/task"
	"github.com/crmkit/crmkit/ticket"
	"github.com/crmkit/crmkit/workflow"
)

// Config configures a [CRM]. A nil *Config means defaults: pools, leads
// and dedupe wired over the store, no routing, no approvals and no
// permission policy (each domain's own rules apply).
type Config struct {
	// Clock tells the time to every domain. Defaults to crm.SystemClock.
	Clock crm.Clock
	// IDs makes every record, ledger entry and event ID. Defaults to
	// crm.UUIDv7 on Clock.
	IDs crm.IDGenerator
	// Permissions, when set, is asked after each domain's own rules by pool
	// operations, lead transitions and conversions, customer creates and
	// edits, opportunity starts and moves ([CRM.StartOpportunity],
	// [CRM.MoveOpportunity]) through the CRM,
	// and approval operations; a refusal is a
	// [*permission.DeniedError] naming the deciding rule. Pass a
	// [*permission.Registry] (one per tenant) to pick up policy changes
	// without rebuilding the CRM and to follow the store's department tree:
	// before deciding, the CRM syncs it with the tree's version
	// ([permission.Registry.Sync]), so a department added or moved in the
	// store is decided on where it sits now. A plain [*permission.Policy]
	// decides on the tree it was compiled against (departments it does not
	// know are denied). Defaults to nil: each domain's own rules alone (pool
	// membership and admins, approval tasks).
	Permissions permission.Authorizer
	// HandoffMachines names the hand-off machines ([workflow.Machine])
	// whose stage and moves of a customer its 360° view shows
	// ([CRM.View]). Defaults to none.
	HandoffMachines []string
	// Matcher compares customers; its fields must be
	// dedupe.CustomerFields(). Defaults to dedupe.NewMatcher with CustomerFields
	// and the package's default weights (a match from 10 bits).
	Matcher *dedupe.Matcher
	// EntryPolicy decides what a duplicate means when a customer is
	// created through [CRM.CreateCustomer] and when a lead is converted.
	// Defaults to blocking from the matcher's match weight (10).
	EntryPolicy *dedupe.Policy
	// CapturePolicy decides what a duplicate means when a lead is captured
	// ([lead.Service.Capture]): checked against the open leads and the
	// customers, a lead is refused from BlockScore and let in with a
	// warning from WarnScore, and a lead of the same company (or person
	// and phone) as an open lead or a customer gets the policy's strongest
	// action whatever its score. Defaults to the entry policy.
	CapturePolicy *dedupe.Policy
	// Dedupe configures the dedupe service. Its Clock, IDs and Ownership
	// are set by New (Ownership only when nil). Defaults to the zero
	// value.
	Dedupe dedupe.ServiceConfig
	// Pool configures the pools. New sets Clock and IDs, sets Duplicates
	// to the store-backed dedupe check when nil, and asks Permissions
	// after Authorizer (the pool's DefaultAuthorizer when nil). Defaults
	// to the zero value.
	Pool pool.Config
	// Lead configures leads. New sets Clock and IDs; sets Duplicates to
	// the store-backed dedupe check, Capture to the store-backed capture
	// check under CapturePolicy, Router to Router, and Customers to
	// the pools (an owned converted customer gets its holding, counters,
	// limits and ledger entry) when nil; and asks Permissions after
	// Authorizer. Defaults to the zero value.
	Lead lead.Config
	// Task configures tasks and appointments; New sets Clock and IDs.
	// Defaults to the zero value (overlapping appointments warn).
	Task task.Config
	// Ticket configures the ticket lifecycle: SLA policies by priority,
	// the routers and escalation that carry out breach actions. New sets
	// Clock and IDs. Defaults to the zero value (no SLA timers).
	Ticket ticket.Config
	// Pipeline configures the sales pipelines ([CRM.Pipelines]): each
	// tenant's pipelines (its Catalog). New sets Clock and IDs. Defaults
	// to the zero value: the built-in pipeline only.
	Pipeline pipeline.Config
	// Remind configures the reminder sweep ([CRM.Reminders]); New sets
	// Clock and IDs. Defaults to the zero value (approvals remind after
	// 24 hours).
	Remind remind.Config
	// Router routes leads: [CRM.RouteLead] at intake, and a conversion of
	// a lead nobody owns yet, whose routing state (round-robin cursors,
	// loads, quotas) then commits in the conversion's unit of work.
	// Defaults to nil: no routing; a conversion keeps the lead's owner.
	Router *workflow.Router
	// LeadRecord builds the routing record of a lead for Router. Defaults
	// to [LeadRecord].
	LeadRecord func(schema *cond.Schema, l *crm.Lead) (*cond.Record, error)
	// Approvals is the approval engine behind [CRM.Approvals]. Defaults to
	// nil: CRM.Approvals is nil.
	Approvals *workflow.Approvals
	// History says which fields of which record types the field history
	// keeps ([history.Config.Tracked]); New sets its Clock and IDs.
	// Defaults to every business field of every record type.
	History history.Config
	// NoHistory turns the field history off: writes through the CRM keep
	// no history and append no change events ("customer.updated", ...),
	// only the domains' own events. It is for adapters without the
	// [crm.HistoryTx] port. Defaults to false.
	NoHistory bool
}

// CRM is every crmkit capability wired over one store: pools, leads,
// dedupe, routing, approvals and permissions, each asking the others
// through the seams of this package. Every operation is one all-or-nothing
// unit of work across domains, and every one has a ...Tx form that joins a
// unit of work the caller already holds: one from [CRM.InTx], or a host's
// own PostgreSQL transaction through pgstore's Store.WithTx passed
// through [CRM.Join].
//
// Every create, update and delete of a shared record made through the CRM
// (its services, its units of work, its store) records one history entry
// per changed field and appends its change event ("customer.updated" with
// a [crm.ChangedPayload]) in the same unit of work, as made by the
// request's actor in the operation that caused it ("claim", "convert",
// "merge"; a host names its own with [crm.WithActor]). Ownership is the
// pool ledger's: a customer's owner, pool and department changes are its
// entries and events (customer.claimed, ...), not history rows.
// [CRM.History] reads the history.
//
// The domain services are exported for their full APIs; use them from the
// CRM, not built by hand, so the seams stay wired. A CRM is safe for
// concurrent use and starts no goroutines.
type CRM struct {
	// Pools runs public pools (公海): claims, releases, transfers,
	// recycling, anti-collision (防撞单) through dedupe, ownership moves
	// with the org and merges.
	Pools *pool.Service
	// Leads runs the lead lifecycle, scoring and conversion, with the
	// duplicate check, routing and the customer's match keys in the
	// conversion's unit of work.
	Leads *lead.Service
	// Dedupe checks, enters and merges customers against their stored
	// match keys; merges settle pool ownership.
	Dedupe *dedupe.Service
	// Approvals submits and decides approvals; nil without
	// [Config.Approvals].
	Approvals *workflow.ApprovalService
	// Router is [Config.Router], nil without one.
	Router *workflow.Router
	// Tasks plans follow-up tasks and books appointments;
	// [CRM.RecordActivity] completes them.
	Tasks *task.Service
	// Tickets moves service tickets through their lifecycle with their
	// SLA timers, and carries out what SLA breaches ask for
	// ([ticket.Service.Tick]).
	Tickets *ticket.Service
	// Reminders fires task reminders, overdue tasks, waiting approvals
	// and pool notices exactly once, each as a reminder.fired event for
	// the host's notifier; the host's scheduler calls its Sweep.
	Reminders *remind.Sweeper
	// Pipelines moves deals through their tenant's pipelines, recording
	// stage history, and reads the pipelines' figures, asking no
	// permission policy; [CRM.StartOpportunity], [CRM.MoveOpportunity]
	// and [CRM.OpportunityHistory] start a deal, move it and read its
	// stays as a user the policy allows (a start or move recomputing the
	// customer's pool holding), and [CRM.Funnel] and its siblings read the
	// figures within a viewer's permission scope.
	Pipelines *pipeline.Service
	// History reads the field history: a record's, newest first, or what
	// one person changed in a time window, with the values of fields the
	// viewer may not see masked by [Config.Permissions] ([permission.Policy.Hidden]);
	// pass [CRM.Store] as its unit of work, or one from [CRM.InTx]. Nil
	// with [Config.NoHistory].
	History *history.Reader

	store crm.Store
	rec   *history.Recorder
	cfg   Config
	seams *seams
}

// New wires every capability over store. A nil cfg means defaults. New
// opens one empty unit of work to check that the store offers every port
// the configured capabilities need (pools, leads, dedupe keys, and routing
// or approvals when configured) and returns an error matching
// [crm.ErrUnsupported] naming the first one missing; bad configuration is a
// [*crm.ValidationError] naming the field.
func New(store crm.Store, cfg *Config) (*CRM, error) {
	if store == nil {
		return nil, fmt.Errorf("crmkit: new: %w", crm.Invalid("store", "is required"))
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
	if c.Matcher == nil {
		mt, err := dedupe.NewMatcher(&dedupe.Config{Fields: dedupe.CustomerFields()})
		if err != nil {
			return nil, fmt.Errorf("crmkit: new: %w", err)
		}
		c.Matcher = mt
	}
	policy := dedupe.Policy{BlockScore: c.Matcher.MatchWeight()}
	if c.EntryPolicy != nil {
		policy = *c.EntryPolicy
	}
	if c.LeadRecord == nil {
		c.LeadRecord = LeadRecord
	}
	if err := checkPorts(store, &c); err != nil {
		return nil, err
	}
	var rec *history.Recorder
	if !c.NoHistory {
		hc := c.History
		hc.Clock, hc.IDs = c.Clock, c.IDs
		r, err := history.New(&hc)
		if err != nil {
			return nil, fmt.Errorf("crmkit: new: history: %w", err)
		}
		rec, store = r, r.WrapStore(store)
	}
	capture := policy
	if c.CapturePolicy != nil {
		capture = *c.CapturePolicy
	}
	s := &seams{ids: c.IDs, clock: c.Clock, perm: c.Permissions, policy: policy, capture: capture, router: c.Router, leadRecord: c.LeadRecord}

	dc := c.Dedupe
	dc.Clock, dc.IDs = c.Clock, c.IDs
	if dc.Ownership == nil {
		dc.Ownership = mergeOwnership{s}
	}
	dd, err := dedupe.NewService(store, c.Matcher, &dc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}
	s.dedupe = dd

	pc := c.Pool
	pc.Clock, pc.IDs = c.Clock, c.IDs
	if pc.Duplicates == nil {
		pc.Duplicates = poolDuplicates{s}
	}
	base := pc.Authorizer
	if base == nil {
		base = pool.DefaultAuthorizer{}
	}
	pc.Authorizer = poolAuthorizer{base: base, s: s}
	pools, err := pool.New(store, &pc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}
	s.pools = pools

	lc := c.Lead
	lc.Clock, lc.IDs = c.Clock, c.IDs
	if lc.Duplicates == nil {
		lc.Duplicates = leadDuplicates{s}
	}
	if lc.Capture == nil {
		lc.Capture = leadCapture{s}
	}
	if lc.Router == nil && c.Router != nil {
		lc.Router = leadRouter{s}
	}
	if lc.Customers == nil {
		lc.Customers = convertedCustomers{s}
	}
	if lc.Contacts == nil {
		lc.Contacts = convertedContacts{s}
	}
	lc.Authorizer = leadAuthorizer{base: lc.Authorizer, s: s}
	leads, err := lead.New(store, &lc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}

	tc := c.Task
	tc.Clock, tc.IDs = c.Clock, c.IDs
	tasks, err := task.New(store, &tc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}
	kc := c.Ticket
	kc.Clock, kc.IDs = c.Clock, c.IDs
	tickets, err := ticket.New(store, &kc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}
	rc := c.Remind
	rc.Clock, rc.IDs = c.Clock, c.IDs
	reminders, err := remind.New(store, &rc)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}

	pl := c.Pipeline
	pl.Clock, pl.IDs = c.Clock, c.IDs
	pipelines, err := pipeline.New(store, &pl)
	if err != nil {
		return nil, fmt.Errorf("crmkit: new: %w", err)
	}

	out := &CRM{Pools: pools, Leads: leads, Dedupe: dd, Router: c.Router, Tasks: tasks, Tickets: tickets, Reminders: reminders,
		Pipelines: pipelines, store: store, rec: rec, cfg: c, seams: s}
	if rec != nil {
		var m history.Masker
		if c.Permissions != nil {
			m = historyMasker{store: store, s: s}
		}
		out.History = history.NewReader(m)
	}
	if c.Approvals != nil {
		out.Approvals, err = workflow.NewApprovalService(store, c.Approvals, &workflow.ApprovalServiceConfig{
			Clock: c.Clock, IDs: c.IDs, Authorizer: approvalAuthorizer{s},
		})
		if err != nil {
			return nil, fmt.Errorf("crmkit: new: %w", err)
		}
	}
	return out, nil
}

// checkPorts opens one unit of work and checks that it offers every port
// the configuration needs.
func checkPorts(store crm.Store, c *Config) error {
	type port struct {
		name string
		ok   func(crm.Tx) bool
	}
	ports := []port{
		{"pool.Tx", func(tx crm.Tx) bool { _, ok := crm.As[pool.Tx](tx); return ok }},
		{"lead.Tx", func(tx crm.Tx) bool { _, ok := crm.As[lead.Tx](tx); return ok }},
		{"dedupe.Tx", func(tx crm.Tx) bool { _, ok := crm.As[dedupe.Tx](tx); return ok }},
	}
	if c.Router != nil {
		ports = append(ports, port{"workflow.RouteTx", func(tx crm.Tx) bool { _, ok := crm.As[workflow.RouteTx](tx); return ok }})
	}
	if c.Approvals != nil {
		ports = append(ports, port{"workflow.ApprovalTx", func(tx crm.Tx) bool { _, ok := crm.As[workflow.ApprovalTx](tx); return ok }})
	}
	if !c.NoHistory {
		ports = append(ports, port{"crm.HistoryTx", func(tx crm.Tx) bool { _, ok := crm.As[crm.HistoryTx](tx); return ok }})
	}
	var missing error
	err := store.InTx(context.Background(), func(ctx context.Context, tx crm.Tx) error {
		for _, p := range ports {
			if !p.ok(tx) {
				missing = fmt.Errorf("crmkit: new: storage adapter %T has no %s ports: %w", tx, p.name, crm.ErrUnsupported)
				return missing
			}
		}
		return nil
	})
	if missing != nil {
		return missing
	}
	if err != nil {
		return fmt.Errorf("crmkit: new: open a unit of work: %w", err)
	}
	return nil
}

// Store returns the store the CRM runs on, recording: its units of work
// and its own writes keep the field history and append change events
// (unless [Config.NoHistory]). Its store-level ports are the adapter's,
// found with [crm.AsStore].
func (c *CRM) Store() crm.Store { return c.store }

// InTx runs fn in one unit of work of the CRM's store; pass tx to the
// ...Tx forms of any domain to make their writes commit together, and
// write records through it to have them recorded.
func (c *CRM) InTx(ctx context.Context, fn func(ctx context.Context, tx crm.Tx) error) error {
	return c.store.InTx(ctx, fn)
}

// Join returns the CRM's unit of work over tx, a unit of work the host
// holds (pgstore's Store.WithTx over its own transaction): writes made
// through it, and by the ...Tx forms given it, are recorded. The CRM's
// own ...Tx forms join by themselves; the domain services' (c.Pools,
// c.Leads, ...) need a joined tx to record. A tx from [CRM.InTx] is
// returned as it is, and so is any tx with [Config.NoHistory].
func (c *CRM) Join(tx crm.Tx) crm.Tx {
	if c.rec == nil || tx == nil {
		return tx
	}
	return c.rec.Wrap(tx)
}

// inUnit runs one Tx form of the CRM in a unit of work of its own: the
// one-call forms (CreateCustomer, CreateContact, RouteLead ...) are this
// around their Tx forms.
func inUnit[Req, Out any](ctx context.Context, store crm.Store, req Req, fn func(context.Context, crm.Tx, Req) (Out, error)) (Out, error) {
	var out Out
	err := store.InTx(ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		out, err = fn(ctx, tx, req)
		return err
	})
	return out, err
}
