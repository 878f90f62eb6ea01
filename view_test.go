package crmkit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/permission"
	"github.com/crmkit/crmkit/pool"
)

// viewWorld is a queueWorld with one customer owned by rep and records
// around it: contacts, opportunities and tickets of several owners,
// activities on each, tasks open and done, and a customer of someone
// else's beside it.
type viewWorld struct {
	*queueWorld
	customer, other *crm.Customer
	contacts        []*crm.Contact
	opps            []*crm.Opportunity
	tickets         []*crm.Ticket
	acts            []*crm.Activity
	openTasks       []*crm.Task
}

func newViewWorld(t *testing.T) *viewWorld {
	t.Helper()
	w := &viewWorld{queueWorld: newQueueWorld(t)}
	ctx := w.ctx
	c := w.crm(t, nil)
	w.customer = crmtest.Customer(w.ids, func(cu *crm.Customer) {
		cu.Name, cu.Phone, cu.Fields = "Acme Ltd", "+86 138 0013 8000", crm.Fields{"budget": crm.String("high")}
	})
	_, err := c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: w.customer, Actor: w.rep.ID, Own: true})
	require.NoError(t, err)
	w.other = crmtest.Customer(w.ids, func(cu *crm.Customer) { cu.Name, cu.Phone = "Other Co", "+86 139 0000 0000" })
	_, err = c.CreateCustomer(ctx, crmkit.CreateCustomerRequest{Customer: w.other, Actor: w.svc1.ID, Own: true})
	require.NoError(t, err)
	st := c.Store()
	owners := []*crm.User{w.rep, w.east1, w.svc1}
	for i := range 6 {
		o := owners[i%3]
		ct := crmtest.Contact(w.ids, w.customer.ID, func(x *crm.Contact) { x.Name = fmt.Sprintf("Contact %d", i); x.OwnerID = o.ID })
		require.NoError(t, st.Contacts().Create(ctx, ct))
		w.contacts = append(w.contacts, ct)
		op := crmtest.Opportunity(w.ids, w.customer.ID, func(x *crm.Opportunity) { x.OwnerID, x.DepartmentID = o.ID, o.DepartmentID })
		require.NoError(t, st.Opportunities().Create(ctx, op))
		w.opps = append(w.opps, op)
		tk := crmtest.Ticket(w.ids, func(x *crm.Ticket) { x.CustomerID, x.AssigneeID, x.DepartmentID = w.customer.ID, o.ID, o.DepartmentID })
		require.NoError(t, st.Tickets().Create(ctx, tk))
		w.tickets = append(w.tickets, tk)
	}
	subjects := []crm.Ref{{Type: crm.TypeCustomer, ID: w.customer.ID}}
	for i := range 6 {
		subjects = append(subjects, crm.Ref{Type: crm.TypeContact, ID: w.contacts[i].ID},
			crm.Ref{Type: crm.TypeOpportunity, ID: w.opps[i].ID}, crm.Ref{Type: crm.TypeTicket, ID: w.tickets[i].ID})
	}
	for i, s := range subjects {
		w.clock.Advance(time.Minute)
		a := crmtest.Activity(w.ids, s, owners[i%3].ID, func(a *crm.Activity) { a.OccurredAt = w.clock.Now() })
		_, err := c.RecordActivity(ctx, crmkit.RecordActivityRequest{Activity: a, Actor: owners[i%3].ID})
		require.NoError(t, err)
		w.acts = append(w.acts, a)
		tk := crmtest.Task(w.ids, s, owners[i%3].ID, func(x *crm.Task) {
			x.DepartmentID, x.DueAt = owners[i%3].DepartmentID, w.clock.Now().Add(48*time.Hour)
		})
		require.NoError(t, st.Tasks().Create(ctx, tk))
		if i%4 == 3 {
			now := w.clock.Now()
			tk.Status, tk.CompletedAt = crm.TaskDone, &now
			require.NoError(t, st.Tasks().Update(ctx, tk))
		} else {
			w.openTasks = append(w.openTasks, tk)
		}
	}
	// Records of the other customer stay out of this one's view.
	require.NoError(t, st.Contacts().Create(ctx, crmtest.Contact(w.ids, w.other.ID)))
	_, err = c.RecordActivity(ctx, crmkit.RecordActivityRequest{Activity: crmtest.Activity(w.ids, crm.Ref{Type: crm.TypeCustomer, ID: w.other.ID}, w.svc1.ID), Actor: w.svc1.ID})
	require.NoError(t, err)
	return w
}

func ids[T any](items []*T, id func(*T) crm.ID) []crm.ID {
	out := []crm.ID{}
	for _, it := range items {
		out = append(out, id(it))
	}
	return out
}

func TestViewReadsEverySectionOfOneCustomer(t *testing.T) {
	t.Parallel()
	w := newViewWorld(t)
	c := w.crm(t, nil)
	v, err := c.View(w.ctx, w.rep.ID, w.customer.ID)
	require.NoError(t, err)
	require.Equal(t, w.customer.ID, v.Customer.ID)
	require.Equal(t, "+86 138 0013 8000", v.Customer.Phone)
	require.Empty(t, v.Omitted)
	require.Empty(t, v.Masked)

	require.Equal(t, ids(w.contacts, func(x *crm.Contact) crm.ID { return x.ID }), ids(v.Contacts.Items, func(x *crm.Contact) crm.ID { return x.ID }))
	require.Equal(t, ids(w.opps, func(x *crm.Opportunity) crm.ID { return x.ID }), ids(v.Opportunities.Items, func(x *crm.Opportunity) crm.ID { return x.ID }))
	require.Equal(t, ids(w.tickets, func(x *crm.Ticket) crm.ID { return x.ID }), ids(v.Tickets.Items, func(x *crm.Ticket) crm.ID { return x.ID }))
	// Activities on the customer and on its contacts, opportunities and
	// tickets: 19 in all, the first page of 20 holds them.
	require.Equal(t, ids(w.acts, func(x *crm.Activity) crm.ID { return x.ID }), ids(v.Activities.Items, func(x *crm.Activity) crm.ID { return x.ID }))
	require.Empty(t, v.Activities.NextCursor)
	require.Equal(t, ids(w.openTasks, func(x *crm.Task) crm.ID { return x.ID }), ids(v.Tasks.Items, func(x *crm.Task) crm.ID { return x.ID }))

	require.NotNil(t, v.Ownership)
	require.Equal(t, pool.StateYours, v.Ownership.Standing.State)
	require.Equal(t, w.rep.ID, v.Ownership.Standing.OwnerID)
	require.NotEmpty(t, v.Ledger.Items, "the create is the ledger's first entry")
	require.Equal(t, w.customer.ID, v.Ledger.Items[0].CustomerID)

	// The timeline is newest first, and paging it reads every event once.
	seen := map[crm.ID]bool{}
	var seqs []int64
	page := v.Timeline
	for {
		for _, e := range page.Items {
			require.False(t, seen[e.ID], "event %s listed twice", e.ID)
			seen[e.ID] = true
			seqs = append(seqs, e.Seq)
		}
		if page.NextCursor == "" {
			break
		}
		next, err := c.ViewPage(w.ctx, crmkit.ViewPageRequest{Viewer: w.rep.ID, CustomerID: w.customer.ID, Cursor: page.NextCursor, Limit: 7})
		require.NoError(t, err)
		require.Empty(t, next.Contacts.Items, "a page fills only its own section")
		page = next.Timeline
	}
	require.True(t, slices.IsSortedFunc(seqs, func(a, b int64) int { return int(b - a) }), "newest first: %v", seqs)
	// customer.created, contacts/opportunities/tickets/tasks created,
	// activities recorded: every related record has at least one event.
	for _, a := range w.acts {
		require.True(t, seenSubject(t, c, w, a.ID, seen), "activity %s in the timeline", a.ID)
	}
	require.Greater(t, len(seen), 19+18)
}

func seenSubject(t *testing.T, c *crmkit.CRM, w *viewWorld, id crm.ID, seen map[crm.ID]bool) bool {
	t.Helper()
	var p crm.Page[crm.Event]
	require.NoError(t, w.store.InTx(w.ctx, func(ctx context.Context, tx crm.Tx) (err error) {
		log, ok := crm.As[crm.EventLog](tx)
		require.True(t, ok)
		p, err = log.SubjectEvents(ctx, crm.EventQuery{SubjectIDs: []crm.ID{id}})
		return err
	}))
	for _, e := range p.Items {
		if seen[e.ID] {
			return true
		}
	}
	return false
}

func TestViewPagesEachSectionAndRefusesForeignCursors(t *testing.T) {
	t.Parallel()
	w := newViewWorld(t)
	c := w.crm(t, nil)
	for range 5 {
		w.clock.Advance(time.Minute)
		a := crmtest.Activity(w.ids, crm.Ref{Type: crm.TypeCustomer, ID: w.customer.ID}, w.rep.ID, func(a *crm.Activity) { a.OccurredAt = w.clock.Now() })
		_, err := c.RecordActivity(w.ctx, crmkit.RecordActivityRequest{Activity: a, Actor: w.rep.ID})
		require.NoError(t, err)
		w.acts = append(w.acts, a)
	}
	v, err := c.View(w.ctx, w.rep.ID, w.customer.ID)
	require.NoError(t, err)
	// 24 activities: a first page of 20, then the other 4.
	require.Len(t, v.Activities.Items, crmkit.DefaultViewLimit)
	require.NotEmpty(t, v.Activities.NextCursor)
	next, err := c.ViewPage(w.ctx, crmkit.ViewPageRequest{Viewer: w.rep.ID, CustomerID: w.customer.ID, Cursor: v.Activities.NextCursor})
	require.NoError(t, err)
	require.Empty(t, next.Activities.NextCursor)
	got := append(ids(v.Activities.Items, func(x *crm.Activity) crm.ID { return x.ID }), ids(next.Activities.Items, func(x *crm.Activity) crm.ID { return x.ID })...)
	require.Equal(t, ids(w.acts, func(x *crm.Activity) crm.ID { return x.ID }), got)
	require.Empty(t, next.Timeline.Items, "a page fills only its own section")

	cur := v.Timeline.NextCursor
	require.NotEmpty(t, cur)
	for name, tc := range map[string]crmkit.ViewPageRequest{
		"another customer": {Viewer: w.rep.ID, CustomerID: w.other.ID, Cursor: cur},
		"garbage":          {Viewer: w.rep.ID, CustomerID: w.customer.ID, Cursor: "cv1.!!"},
		"a list cursor":    {Viewer: w.rep.ID, CustomerID: w.customer.ID, Cursor: crm.EventLogCursor(5)},
		"no cursor":        {Viewer: w.rep.ID, CustomerID: w.customer.ID},
	} {
		_, err := c.ViewPage(w.ctx, tc)
		require.Error(t, err, name)
		requireFieldIn(t, err, "cursor")
	}
	_, err = c.ViewPage(w.ctx, crmkit.ViewPageRequest{Viewer: w.rep.ID, CustomerID: w.customer.ID, Cursor: cur, Limit: crm.MaxPageLimit + 1})
	requireFieldIn(t, err, "limit")
	_, err = c.View(w.ctx, crm.NilID, w.customer.ID)
	requireFieldIn(t, err, "viewer")
	_, err = c.View(w.ctx, w.ids.NewID(), w.customer.ID)
	requireFieldIn(t, err, "viewer")
	_, err = c.View(w.ctx, w.rep.ID, w.ids.NewID())
	require.ErrorIs(t, err, crm.ErrNotFound)
}

// TestViewNeverShowsWhatThePolicyHides is the differential test: for
// random policies (scopes per record type, hidden fields, types left out)
// and every viewer, each record the view returns is one permission.Check
// allows, each field the policy hides reads as zero, each record Check
// allows is returned, and a type the viewer may not view is omitted with
// a reason.
func TestViewNeverShowsWhatThePolicyHides(t *testing.T) {
	t.Parallel()
	w := newViewWorld(t)
	rng := rand.New(rand.NewPCG(18, 360))
	types := []crm.RecordType{crm.TypeCustomer, crm.TypeContact, crm.TypeOpportunity, crm.TypeTicket, crm.TypeActivity, crm.TypeTask}
	fields := map[crm.RecordType][]string{
		crm.TypeCustomer: {"phone", "name", "industry"}, crm.TypeContact: {"name", "title"},
		crm.TypeOpportunity: {"amount", "name"}, crm.TypeTicket: {"subject"}, crm.TypeActivity: {"note"}, crm.TypeTask: {"title"},
	}
	scopes := []permission.Scope{permission.ScopeOwn, permission.ScopeDepartment, permission.ScopeAll}
	viewers := []*crm.User{w.rep, w.east1, w.svc1, w.manager}
	roles := []string{"rep", "lead", "picky"}
	for round := range 40 {
		doc := permission.Document{}
		for _, rt := range types {
			doc.RecordTypes = append(doc.RecordTypes, permission.RecordTypeDoc{Name: rt, Fields: fields[rt]})
		}
		for _, role := range roles {
			rd := permission.RoleDoc{Name: role}
			for _, rt := range types {
				if rt != crm.TypeCustomer && rng.IntN(5) == 0 {
					continue // this role cannot view rt at all
				}
				rd.Rules = append(rd.Rules, permission.RuleDoc{ID: fmt.Sprintf("%s.%s", role, rt), RecordType: rt,
					Actions: []permission.Action{permission.ActionView}, Scope: scopes[rng.IntN(len(scopes))]})
				for _, f := range fields[rt] {
					if rng.IntN(3) == 0 {
						rd.Fields = append(rd.Fields, permission.FieldRuleDoc{RecordType: rt, Field: f, Access: permission.AccessHidden})
					}
				}
			}
			doc.Roles = append(doc.Roles, rd)
		}
		raw, err := json.Marshal(doc)
		require.NoError(t, err)
		p, err := permission.Load(raw, []*crm.Department{w.sales, w.east, w.svc}, nil)
		require.NoError(t, err, "round %d", round)
		c := w.crm(t, p)
		for _, u := range viewers {
			s := p.Subject(u)
			name := fmt.Sprintf("round %d viewer %s", round, u.Name)
			cr := permission.CustomerResource(w.customer, w.rep.DepartmentID)
			v, err := c.View(w.ctx, u.ID, w.customer.ID)
			if !p.Check(&s, permission.ActionView, &cr).Allowed {
				require.ErrorIs(t, err, crm.ErrPermissionDenied, name)
				continue
			}
			require.NoError(t, err, name)
			hidden := func(rt crm.RecordType) []string { f, _ := p.HiddenFields(&s, rt, permission.ActionView); return f }
			requireMasked(t, v.Customer, hidden(crm.TypeCustomer), name)
			omitted := map[crmkit.ViewSection]bool{}
			for _, o := range v.Omitted {
				require.NotEmpty(t, o.Reason)
				omitted[o.Section] = true
			}
			check := func(section crmkit.ViewSection, rt crm.RecordType, got []crm.ID, want []crm.ID) {
				if _, all := p.HiddenFields(&s, rt, permission.ActionView); all {
					require.True(t, omitted[section], "%s: %s omitted", name, section)
					require.Empty(t, got, "%s: %s", name, section)
					return
				}
				require.False(t, omitted[section], "%s: %s", name, section)
				require.Equal(t, want, got, "%s: %s holds exactly what Check allows", name, section)
			}
			var want []crm.ID
			for _, x := range w.contacts {
				if r := permission.ContactResource(x, w.customer); p.Check(&s, permission.ActionView, &r).Allowed {
					want = append(want, x.ID)
				}
			}
			check(crmkit.SectionContacts, crm.TypeContact, ids(v.Contacts.Items, func(x *crm.Contact) crm.ID { return x.ID }), nilIfEmpty(want))
			for _, x := range v.Contacts.Items {
				requireMasked(t, x, hidden(crm.TypeContact), name)
			}
			want = nil
			visible := map[crm.ID]bool{w.customer.ID: true}
			for _, x := range v.Contacts.Items {
				visible[x.ID] = true
			}
			for _, x := range w.opps {
				if r := permission.OpportunityResource(x, crm.NilID); p.Check(&s, permission.ActionView, &r).Allowed {
					want = append(want, x.ID)
					visible[x.ID] = true
				}
			}
			check(crmkit.SectionOpportunities, crm.TypeOpportunity, ids(v.Opportunities.Items, func(x *crm.Opportunity) crm.ID { return x.ID }), nilIfEmpty(want))
			for _, x := range v.Opportunities.Items {
				requireMasked(t, x, hidden(crm.TypeOpportunity), name)
			}
			want = nil
			for _, x := range w.tickets {
				if r := permission.TicketResource(x, crm.NilID); p.Check(&s, permission.ActionView, &r).Allowed {
					want = append(want, x.ID)
					visible[x.ID] = true
				}
			}
			check(crmkit.SectionTickets, crm.TypeTicket, ids(v.Tickets.Items, func(x *crm.Ticket) crm.ID { return x.ID }), nilIfEmpty(want))
			want = nil
			dept := map[crm.ID]crm.ID{w.rep.ID: w.rep.DepartmentID, w.east1.ID: w.east1.DepartmentID, w.svc1.ID: w.svc1.DepartmentID}
			for _, x := range w.acts {
				r := permission.ActivityResource(x, dept[x.ActorID])
				if visible[x.Subject.ID] && p.Check(&s, permission.ActionView, &r).Allowed {
					want = append(want, x.ID)
				}
			}
			got := ids(v.Activities.Items, func(x *crm.Activity) crm.ID { return x.ID })
			if len(want) > crmkit.DefaultViewLimit {
				want = want[:crmkit.DefaultViewLimit]
			}
			check(crmkit.SectionActivities, crm.TypeActivity, got, nilIfEmpty(want))
			for _, x := range v.Activities.Items {
				requireMasked(t, x, hidden(crm.TypeActivity), name)
			}
			want = nil
			for _, x := range w.openTasks {
				r := permission.TaskResource(x)
				if visible[x.Subject.ID] && p.Check(&s, permission.ActionView, &r).Allowed {
					want = append(want, x.ID)
				}
			}
			check(crmkit.SectionTasks, crm.TypeTask, ids(v.Tasks.Items, func(x *crm.Task) crm.ID { return x.ID }), nilIfEmpty(want))
			for _, x := range v.Tasks.Items {
				requireMasked(t, x, hidden(crm.TypeTask), name)
			}
			// The timeline holds only events of visible records, and no
			// hidden value in them.
			for _, e := range v.Timeline.Items {
				okSubject := visible[e.Subject.ID] || slices.Contains(ids(v.Activities.Items, func(x *crm.Activity) crm.ID { return x.ID }), e.Subject.ID) ||
					slices.Contains(ids(v.Tasks.Items, func(x *crm.Task) crm.ID { return x.ID }), e.Subject.ID)
				require.True(t, okSubject || e.Subject.Type == crm.TypeActivity || e.Subject.Type == crm.TypeTask, "%s: event of %v", name, e.Subject)
				if h := hidden(e.Subject.Type); len(h) > 0 && len(e.Payload) > 0 {
					var cp crm.ChangedPayload
					require.NoError(t, json.Unmarshal(e.Payload, &cp), "%s: a payload kept under a mask is a change", name)
					for _, ch := range cp.Changes {
						if slices.Contains(h, ch.Field) {
							require.JSONEq(t, `"***"`, string(ch.New), "%s: %s masked", name, ch.Field)
						}
					}
				}
			}
		}
	}
}

func nilIfEmpty(ids []crm.ID) []crm.ID {
	if len(ids) == 0 {
		return []crm.ID{}
	}
	return ids
}

// requireMasked fails when a hidden field of rec (a JSON path: "phone",
// "fields.budget") holds a value.
func requireMasked(t *testing.T, rec any, hidden []string, name string) {
	t.Helper()
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	for _, f := range hidden {
		var val any
		if n, ok := cutFields(f); ok {
			if m, _ := doc["fields"].(map[string]any); m != nil {
				val = m[n]
			}
		} else {
			val = doc[f]
		}
		require.True(t, val == nil || reflect.ValueOf(val).IsZero(), "%s: %T.%s = %v is hidden", name, rec, f, val)
	}
}

func cutFields(f string) (string, bool) {
	const p = "fields."
	if len(f) > len(p) && f[:len(p)] == p {
		return f[len(p):], true
	}
	return "", false
}
