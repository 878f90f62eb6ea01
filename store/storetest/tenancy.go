package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

// runCrossTenant checks that tenants stay apart where records meet: no
// record may refer to a record of another tenant (crm.References), and an
// ID held by another tenant's record is refused without being reported as
// an existing record.
func runCrossTenant(t *testing.T, h Harness) {
	t.Run("References", func(t *testing.T) {
		lead, cust, cont, opp := leadKind(), customerKind(), contactKind(), opportunityKind()
		act, tick, user, dept, team := activityKind(), ticketKind(), userKind(), departmentKind(), teamKind()
		runRef(t, h, lead, "owner_id", crm.TypeUser, func(_ *env, v *crm.Lead, id crm.ID) { v.OwnerID = id })
		runRef(t, h, lead, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Lead, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, lead, "created_by", crm.TypeUser, func(_ *env, v *crm.Lead, id crm.ID) { v.CreatedBy = id })
		runRef(t, h, lead, "converted_customer_id", crm.TypeCustomer, func(_ *env, v *crm.Lead, id crm.ID) { v.ConvertedCustomerID = id })
		runRef(t, h, lead, "converted_contact_id", crm.TypeContact, func(_ *env, v *crm.Lead, id crm.ID) { v.ConvertedContactID = id })
		runRef(t, h, lead, "converted_opportunity_id", crm.TypeOpportunity, func(_ *env, v *crm.Lead, id crm.ID) { v.ConvertedOpportunityID = id })
		runRef(t, h, cust, "owner_id", crm.TypeUser, func(_ *env, v *crm.Customer, id crm.ID) { v.OwnerID = id })
		runRef(t, h, cust, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Customer, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, cust, "created_by", crm.TypeUser, func(_ *env, v *crm.Customer, id crm.ID) { v.CreatedBy = id })
		if h.Features.Pools {
			runRef(t, h, cust, "pool_id", crm.TypePool, func(_ *env, v *crm.Customer, id crm.ID) { v.PoolID = id })
		}
		runRef(t, h, cont, "customer_id", crm.TypeCustomer, func(_ *env, v *crm.Contact, id crm.ID) { v.CustomerID = id })
		runRef(t, h, cont, "owner_id", crm.TypeUser, func(_ *env, v *crm.Contact, id crm.ID) { v.OwnerID = id })
		runRef(t, h, opp, "customer_id", crm.TypeCustomer, func(_ *env, v *crm.Opportunity, id crm.ID) { v.CustomerID = id })
		runRef(t, h, opp, "owner_id", crm.TypeUser, func(_ *env, v *crm.Opportunity, id crm.ID) { v.OwnerID = id })
		runRef(t, h, opp, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Opportunity, id crm.ID) { v.DepartmentID = id })
		for _, typ := range []crm.RecordType{crm.TypeLead, crm.TypeCustomer, crm.TypeContact, crm.TypeOpportunity, crm.TypeTicket} {
			runRef(t, h, act, "subject.id", typ, func(_ *env, v *crm.Activity, id crm.ID) { v.Subject = crm.Ref{Type: typ, ID: id} })
		}
		runRef(t, h, act, "actor_id", crm.TypeUser, func(_ *env, v *crm.Activity, id crm.ID) { v.ActorID = id })
		runRef(t, h, tick, "customer_id", crm.TypeCustomer, func(_ *env, v *crm.Ticket, id crm.ID) { v.CustomerID = id })
		runRef(t, h, tick, "contact_id", crm.TypeContact, func(_ *env, v *crm.Ticket, id crm.ID) { v.ContactID = id })
		runRef(t, h, tick, "assignee_id", crm.TypeUser, func(_ *env, v *crm.Ticket, id crm.ID) { v.AssigneeID = id })
		runRef(t, h, tick, "team_id", crm.TypeTeam, func(_ *env, v *crm.Ticket, id crm.ID) { v.TeamID = id })
		runRef(t, h, tick, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Ticket, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, user, "department_id", crm.TypeDepartment, func(_ *env, v *crm.User, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, dept, "parent_id", crm.TypeDepartment, func(_ *env, v *crm.Department, id crm.ID) { v.ParentID = id })
		runRef(t, h, dept, "manager_id", crm.TypeUser, func(_ *env, v *crm.Department, id crm.ID) { v.ManagerID = id })
		runRef(t, h, team, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Team, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, team, "lead_id", crm.TypeUser, func(_ *env, v *crm.Team, id crm.ID) { v.LeadID = id })
		// The member before the named one does not exist anywhere, which
		// is allowed, so the error must name the right index.
		runRef(t, h, team, "member_ids[1]", crm.TypeUser, func(e *env, v *crm.Team, id crm.ID) { v.MemberIDs = []crm.ID{e.ids.NewID(), id} })
		task := taskKind()
		for _, typ := range []crm.RecordType{crm.TypeLead, crm.TypeCustomer, crm.TypeContact, crm.TypeOpportunity, crm.TypeTicket} {
			runRef(t, h, task, "subject.id", typ, func(_ *env, v *crm.Task, id crm.ID) { v.Subject = crm.Ref{Type: typ, ID: id} })
		}
		runRef(t, h, task, "assignee_id", crm.TypeUser, func(_ *env, v *crm.Task, id crm.ID) { v.AssigneeID = id })
		runRef(t, h, task, "department_id", crm.TypeDepartment, func(_ *env, v *crm.Task, id crm.ID) { v.DepartmentID = id })
		runRef(t, h, task, "created_by", crm.TypeUser, func(_ *env, v *crm.Task, id crm.ID) { v.CreatedBy = id })
		runRef(t, h, task, "completed_by", crm.TypeActivity, func(_ *env, v *crm.Task, id crm.ID) {
			v.Status, v.CompletedBy, v.CompletedAt = crm.TaskDone, id, ptr(v.DueAt)
		})
		runRef(t, h, task, "previous_id", crm.TypeTask, func(_ *env, v *crm.Task, id crm.ID) {
			v.Recurrence, v.SeriesStart = &crm.Recurrence{Every: 1, Unit: crm.EveryDay}, ptr(v.DueAt.AddDate(0, 0, -1))
			v.Occurrence, v.PreviousID = 2, id
		})
	})
	t.Run("IDs", func(t *testing.T) {
		runForeignID(t, h, leadKind())
		runForeignID(t, h, customerKind())
		runForeignID(t, h, contactKind())
		runForeignID(t, h, opportunityKind())
		runForeignID(t, h, activityKind())
		runForeignID(t, h, ticketKind())
		runForeignID(t, h, userKind())
		runForeignID(t, h, departmentKind())
		runForeignID(t, h, teamKind())
		runForeignID(t, h, taskKind())
	})
}

// storeTarget stores a minimal record of type typ in ctx's tenant and
// returns its ID.
func storeTarget(t *testing.T, e *env, ctx context.Context, typ crm.RecordType) crm.ID {
	t.Helper()
	switch typ {
	case crm.TypeLead:
		return storeMinimal(t, e, ctx, leadKind())
	case crm.TypeCustomer:
		return storeMinimal(t, e, ctx, customerKind())
	case crm.TypeContact:
		return storeMinimal(t, e, ctx, contactKind())
	case crm.TypeOpportunity:
		return storeMinimal(t, e, ctx, opportunityKind())
	case crm.TypeTicket:
		return storeMinimal(t, e, ctx, ticketKind())
	case crm.TypeActivity:
		return storeMinimal(t, e, ctx, activityKind())
	case crm.TypeTask:
		return storeMinimal(t, e, ctx, taskKind())
	case crm.TypeUser:
		return storeMinimal(t, e, ctx, userKind())
	case crm.TypeDepartment:
		return storeMinimal(t, e, ctx, departmentKind())
	case crm.TypeTeam:
		return storeMinimal(t, e, ctx, teamKind())
	case crm.TypePool:
		p := &pool.Pool{ID: e.ids.NewID(), Name: "Pool of " + crm.TenantFrom(ctx), Members: pool.Members{All: true}}
		err := e.store.InTx(ctx, func(ctx context.Context, tx crm.Tx) error {
			ptx, ok := tx.(pool.Tx)
			require.True(t, ok, "the adapter's Tx does not implement pool.Tx; declare Features.Pools only for an adapter that has them")
			return ptx.Pools().Create(ctx, p)
		})
		require.NoError(t, err, "create pool")
		return p.ID
	}
	t.Fatalf("storetest: no target of type %q", typ)
	return crm.NilID
}

func storeMinimal[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, e *env, ctx context.Context, k kind[T, F, PT, PF]) crm.ID {
	t.Helper()
	return k.meta(k.create(t, ctx, e.store, k.minimal(e, ctx))).ID
}

// runRef checks one reference field of kind k: set points it at a record
// of type target. Tenant "b" writes; tenant "a" owns the foreign record.
func runRef[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF], field string, target crm.RecordType, set func(*env, *T, crm.ID)) {
	name := k.name + "/" + field
	if field == "subject.id" {
		name += "/" + string(target)
	}
	t.Run(name, func(t *testing.T) {
		test(t, h, "CreateRefusesARecordOfAnotherTenant", func(t *testing.T, e *env) {
			foreign := storeTarget(t, e, e.ctxA, target)
			v := k.minimal(e, e.ctxB)
			set(e, v, foreign)
			requireInvalid(t, k.repo(e.store).Create(e.ctxB, v), field)
			k.requireMissing(t, e.ctxB, e.store, k.meta(v).ID)
			k.requireMissing(t, e.ctxA, e.store, k.meta(v).ID)
			require.Zero(t, k.meta(v).Version, "a refused create wrote its Meta back")
		})
		test(t, h, "UpdateRefusesARecordOfAnotherTenant", func(t *testing.T, e *env) {
			foreign := storeTarget(t, e, e.ctxA, target)
			v := k.create(t, e.ctxB, e.store, k.minimal(e, e.ctxB))
			want := k.stored(v)
			changed := PT(v).Clone()
			set(e, changed, foreign)
			requireInvalid(t, k.repo(e.store).Update(e.ctxB, changed), field)
			requireSame(t, want, k.get(t, e.ctxB, e.store, k.meta(v).ID))
		})
		test(t, h, "ARecordOfTheSameTenantIsAccepted", func(t *testing.T, e *env) {
			own := storeTarget(t, e, e.ctxB, target)
			// Another tenant's records of the same type change nothing.
			storeTarget(t, e, e.ctxA, target)
			v := k.minimal(e, e.ctxB)
			set(e, v, own)
			k.create(t, e.ctxB, e.store, v)
			requireSame(t, k.stored(v), k.get(t, e.ctxB, e.store, k.meta(v).ID))
			u := k.create(t, e.ctxB, e.store, k.minimal(e, e.ctxB))
			set(e, u, own)
			require.NoError(t, k.repo(e.store).Update(e.ctxB, u))
			requireSame(t, k.stored(u), k.get(t, e.ctxB, e.store, k.meta(u).ID))
		})
		if field != "parent_id" {
			// Only a department's parent must exist; other references may
			// name no stored record (a deleted user, a record stored later).
			test(t, h, "ARecordThatDoesNotExistIsAccepted", func(t *testing.T, e *env) {
				v := k.minimal(e, e.ctxB)
				set(e, v, e.ids.NewID())
				k.create(t, e.ctxB, e.store, v)
				requireSame(t, k.stored(v), k.get(t, e.ctxB, e.store, k.meta(v).ID))
			})
		}
		test(t, h, "ARefusalInsideAUnitOfWorkLeavesItUsable", func(t *testing.T, e *env) {
			foreign := storeTarget(t, e, e.ctxA, target)
			bad, good := k.minimal(e, e.ctxB), k.minimal(e, e.ctxB)
			set(e, bad, foreign)
			err := e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error {
				requireInvalid(t, k.repo(tx).Create(ctx, bad), field)
				return k.repo(tx).Create(ctx, good)
			})
			require.NoError(t, err, "the unit of work fails after a refused reference")
			k.requireMissing(t, e.ctxB, e.store, k.meta(bad).ID)
			requireSame(t, k.stored(good), k.get(t, e.ctxB, e.store, k.meta(good).ID))
		})
	})
}

// secretTenant owns the records whose IDs another tenant tries to reuse; an
// error that mentions it has told that tenant too much.
const secretTenant = "acme-secret-tenant"

// runForeignID checks that record IDs are unique across tenants without
// showing one tenant another's records: a Create in tenant "b" with the ID
// of a record of another tenant is a *crm.ValidationError on "id", not
// crm.ErrAlreadyExists (which means "a record you can read exists"), and
// names neither the tenant nor anything of the record.
func runForeignID[T any, F any, PT record[T], PF filter[T, F]](t *testing.T, h Harness, k kind[T, F, PT, PF]) {
	t.Run(k.name, func(t *testing.T) {
		test(t, h, "CreateWithTheIDOfAnotherTenantsRecordIsInvalidNotAlreadyExists", func(t *testing.T, e *env) {
			secret := crm.WithTenant(e.ctx, secretTenant)
			theirs := k.create(t, secret, e.store, k.minimal(e, secret))
			want := k.stored(theirs)
			id := k.meta(theirs).ID

			mine := k.minimal(e, e.ctxB)
			k.meta(mine).ID = id
			err := k.repo(e.store).Create(e.ctxB, mine)
			requireInvalid(t, err, "id")
			require.NotErrorIs(t, err, crm.ErrAlreadyExists)
			require.NotContains(t, err.Error(), secretTenant)
			require.Zero(t, k.meta(mine).Version, "a refused create wrote its Meta back")

			k.requireMissing(t, e.ctxB, e.store, id)
			requireSame(t, want, k.get(t, secret, e.store, id))

			// The same inside a unit of work, which stays usable.
			fresh := k.minimal(e, e.ctxB)
			err = e.store.InTx(e.ctxB, func(ctx context.Context, tx crm.Tx) error {
				dup := k.minimal(e, ctx)
				k.meta(dup).ID = id
				requireInvalid(t, k.repo(tx).Create(ctx, dup), "id")
				return k.repo(tx).Create(ctx, fresh)
			})
			require.NoError(t, err)
			requireSame(t, k.stored(fresh), k.get(t, e.ctxB, e.store, k.meta(fresh).ID))
			requireSame(t, want, k.get(t, secret, e.store, id))
		})
		test(t, h, "CreateWithTheIDOfTheSameTenantsRecordIsStillAlreadyExists", func(t *testing.T, e *env) {
			v := k.create(t, e.ctxB, e.store, k.minimal(e, e.ctxB))
			dup := k.minimal(e, e.ctxB)
			k.meta(dup).ID = k.meta(v).ID
			require.ErrorIs(t, k.repo(e.store).Create(e.ctxB, dup), crm.ErrAlreadyExists)
		})
	})
}
