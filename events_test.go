package crmkit_test

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/pool"
	"github.com/crmkit/crmkit/store/memstore"
	"github.com/crmkit/crmkit/workflow"
)

// eventTypeConstants parses the module's library sources and returns the
// value of every constant declared as a crm.EventType.
func eventTypeConstants(t *testing.T) map[string]crm.EventType {
	t.Helper()
	out := map[string]crm.EventType{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != "." && (n == "bench" || n == "examples" || n == "testdata" || strings.HasPrefix(n, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			g, ok := decl.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				if !isEventType(vs.Type) {
					continue
				}
				for i, name := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					require.True(t, ok, "%s: %s is not a string literal", path, name)
					v, err := strconv.Unquote(lit.Value)
					require.NoError(t, err)
					out[f.Name.Name+"."+name.Name] = crm.EventType(v)
				}
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

func isEventType(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name == "EventType"
	case *ast.SelectorExpr:
		id, ok := x.X.(*ast.Ident)
		return ok && id.Name == "crm" && x.Sel.Name == "EventType"
	}
	return false
}

func TestEveryEventTypeConstantHasAnExportedPayloadStruct(t *testing.T) {
	t.Parallel()
	consts := eventTypeConstants(t)
	seen := map[crm.EventType]bool{}
	for _, typ := range crmkit.EventTypes() {
		require.False(t, seen[typ], "crmkit.EventTypes lists %s once", typ)
		seen[typ] = true
	}
	for name, typ := range consts {
		require.Contains(t, crmkit.EventTypes(), typ, name)
	}
	for _, typ := range crmkit.EventTypes() {
		v, ok := crmkit.PayloadOf(typ)
		require.True(t, ok, "%s has a payload type", typ)
		rt := reflect.TypeOf(v)
		require.Equal(t, reflect.Pointer, rt.Kind(), "%s", typ)
		require.Equal(t, reflect.Struct, rt.Elem().Kind(), "%s", typ)
		require.True(t, rt.Elem().Name() != "" && rt.Elem().PkgPath() != "" && ast.IsExported(rt.Elem().Name()), "%s: %v is an exported named struct", typ, rt)
		require.True(t, strings.HasPrefix(rt.Elem().PkgPath(), "github.com/crmkit/crmkit"), "%s: %v", typ, rt)
	}
	for _, rt := range []crm.RecordType{crm.TypeTicket, "claim"} {
		v, ok := crmkit.PayloadOf(workflow.RoutedEventType(rt))
		require.True(t, ok)
		require.IsType(t, &workflow.RoutedPayload{}, v)
		v, ok = crmkit.PayloadOf(workflow.HandedOffEventType(rt))
		require.True(t, ok)
		require.IsType(t, &workflow.HandedOffPayload{}, v)
	}
	_, ok := crmkit.PayloadOf("customer.teleported")
	require.False(t, ok)
	_, err := crmkit.DecodeEvent(crm.Event{Type: "customer.teleported", Payload: []byte(`{}`)})
	require.ErrorIs(t, err, crm.ErrUnsupported)
}

func TestDecodeEventRefusesAPayloadThatIsNotItsTypes(t *testing.T) {
	t.Parallel()
	_, err := crmkit.DecodeEvent(crm.Event{Type: pool.EventClaimed, Payload: []byte(`{"entry_id":"0190c9a6-7a6c-7a6c-8a6c-0190c9a67a6c","seq":1,"extra":true}`)})
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, "extra")
	_, err = crmkit.DecodeEvent(crm.Event{Type: crm.EventCustomerUpdated, Payload: []byte(`{"name":"x"}`)})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "a change event carries changes, not fields")
	_, err = crm.DecodePayload[workflow.SLAPayload](crm.Event{Type: workflow.EventSLAWarned, Payload: []byte(`{"policy":"a","policy":"b"}`)})
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "a repeated key")
}

// TestEventsTheConformanceSuiteDoesNotDriveDecode makes crmkit write the
// event types that store/storetest does not (storetest decodes every
// event its tests leave in the outbox and checks it saw all the others),
// and decodes each into its payload struct.
func TestEventsTheConformanceSuiteDoesNotDriveDecode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	ids := crmtest.NewIDs()
	store := memstore.New(&memstore.Config{Clock: clock})
	var events []crm.Event

	// Pools: assign and move.
	admin, rep := crmtest.User(ids), crmtest.User(ids)
	require.NoError(t, store.Users().Create(ctx, admin))
	require.NoError(t, store.Users().Create(ctx, rep))
	pools, err := pool.New(store, &pool.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	east := &pool.Pool{ID: ids.NewID(), Name: "East", Members: pool.Members{All: true}, Admins: []crm.ID{admin.ID}}
	west := &pool.Pool{ID: ids.NewID(), Name: "West", Members: pool.Members{All: true}, Admins: []crm.ID{admin.ID}}
	require.NoError(t, pools.CreatePool(ctx, east))
	require.NoError(t, pools.CreatePool(ctx, west))
	c1, c2 := crmtest.Customer(ids), crmtest.Customer(ids)
	for _, c := range []*crm.Customer{c1, c2} {
		require.NoError(t, store.Customers().Create(ctx, c))
		_, err = pools.Enter(ctx, pool.EnterRequest{Actor: admin.ID, CustomerID: c.ID, PoolID: east.ID})
		require.NoError(t, err)
	}
	_, err = pools.Assign(ctx, pool.AssignRequest{Actor: admin.ID, CustomerID: c1.ID, To: rep.ID})
	require.NoError(t, err)
	_, err = pools.Move(ctx, pool.MoveRequest{Actor: admin.ID, CustomerID: c2.ID, PoolID: west.ID})
	require.NoError(t, err)

	// Leads: contacted and qualified.
	leads, err := lead.New(store, &lead.Config{Clock: clock, IDs: ids})
	require.NoError(t, err)
	l := crmtest.Lead(ids)
	require.NoError(t, store.Leads().Create(ctx, l))
	_, _, err = leads.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadContacted, Actor: rep.ID})
	require.NoError(t, err)
	_, _, err = leads.Transition(ctx, lead.TransitionRequest{LeadID: l.ID, To: crm.LeadMQL, Actor: rep.ID})
	require.NoError(t, err)
	pending, err := store.Outbox().Pending(ctx, 1000)
	require.NoError(t, err)
	events = append(events, pending...)

	// Approvals, which return their events: every decision but approval.
	boss, director := crmtest.User(ids, func(u *crm.User) { u.Roles = []string{"manager"} }), crmtest.User(ids, func(u *crm.User) { u.Roles = []string{"director"} })
	other := crmtest.User(ids)
	org, err := workflow.NewOrg([]crm.User{*rep, *boss, *director, *other, *admin}, nil, nil)
	require.NoError(t, err)
	schema, err := cond.NewSchema(cond.Field{Name: "discount_percent", Kind: cond.KindNumber})
	require.NoError(t, err)
	def, err := workflow.ParseDefinition(schema, org, []byte(`{"key": "discount", "version": 1, "record_type": "opportunity",
		"steps": [
			{"name": "manager", "approvers": [{"role": "manager"}]},
			{"name": "director", "approvers": [{"role": "director"}], "on_reject": "previous_step", "timeout": "2h",
			 "on_timeout": {"action": "escalate", "to": {"role": "manager"}}}]}`))
	require.NoError(t, err)
	approvals, err := workflow.NewApprovals(org, &workflow.ApprovalsConfig{IDs: ids, Clock: clock})
	require.NoError(t, err)
	rec := schema.NewRecord()
	require.NoError(t, rec.SetNumber("discount_percent", decimal.NewFromInt(15)))
	submit := func() *workflow.Instance {
		in, evs, err := approvals.Submit(def, rec, crm.Ref{Type: crm.TypeOpportunity, ID: ids.NewID()}, rep.ID)
		require.NoError(t, err)
		events = append(events, evs...)
		return in
	}
	add := func(evs []crm.Event, err error) {
		t.Helper()
		require.NoError(t, err)
		events = append(events, evs...)
	}
	in := submit()
	add(approvals.AddComment(in, rep.ID, "urgent"))
	add(approvals.Delegate(in, boss.ID, other.ID))
	add(approvals.Reassign(in, admin.ID, other.ID, boss.ID))
	add(approvals.Approve(in, boss.ID, "ok"))
	add(approvals.Tick(in, clock.Now().Add(3*time.Hour)))
	add(approvals.Reject(in, director.ID, "too much"))
	add(approvals.Reject(in, boss.ID, "no"))
	add(approvals.Recall(submit(), rep.ID, "wrong customer"))

	want := []crm.EventType{
		pool.EventAssigned, pool.EventMoved, lead.EventLeadContacted, lead.EventLeadQualified,
		workflow.EventApprovalRejected, workflow.EventApprovalSentBack, workflow.EventApprovalRecalled,
		workflow.EventApprovalDelegated, workflow.EventApprovalReassigned, workflow.EventApprovalCommented,
		workflow.EventApprovalEscalated,
	}
	seen := map[crm.EventType]bool{}
	for _, ev := range events {
		v, err := crmkit.DecodeEvent(ev)
		require.NoError(t, err, "%s: %s", ev.Type, ev.Payload)
		want, _ := crmkit.PayloadOf(ev.Type)
		require.IsType(t, want, v, "%s", ev.Type)
		seen[ev.Type] = true
	}
	for _, typ := range want {
		require.True(t, seen[typ], "%s was written", typ)
	}

	// A few fields, to see that the payloads carry what happened.
	for _, ev := range events {
		switch ev.Type {
		case pool.EventAssigned:
			p, err := crm.DecodePayload[pool.AssignedPayload](ev)
			require.NoError(t, err)
			require.Equal(t, pool.OpAssign, p.Op)
			require.Equal(t, rep.ID, p.ToOwner)
			require.Equal(t, c1.ID, p.CustomerID)
			require.NotZero(t, p.Seq)
		case workflow.EventApprovalDelegated:
			p, err := crm.DecodePayload[workflow.ApprovalDelegatedPayload](ev)
			require.NoError(t, err)
			require.Equal(t, boss.ID, p.From)
			require.Equal(t, other.ID, p.To)
			require.Equal(t, "discount", p.Definition)
			require.Equal(t, "manager", p.Step)
		case workflow.EventApprovalEscalated:
			p, err := crm.DecodePayload[workflow.ApprovalEscalatedPayload](ev)
			require.NoError(t, err)
			require.Equal(t, []crm.ID{boss.ID}, p.To)
			require.Equal(t, []crm.ID{director.ID}, p.WaitingOn)
		}
	}
	require.False(t, slices.Contains(crmkit.EventTypes(), "customer.teleported"))
}
