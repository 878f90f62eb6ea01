package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/crmkit/crmkit/crm"
)

// record is the pointer side of a record type T.
type record[T any] interface {
	*T
	crm.Entity
	Clone() *T
}

// listFilter is the pointer side of a filter type F.
type listFilter[F any] interface {
	*F
	Validate() error
}

// column maps one field to a column. sel and val default to the plain
// column name and placeholder; a column that needs a cast sets them, with %s
// standing for the column name or the placeholder.
type column struct {
	name, sel, val string
}

// scratch receives column values that need decoding after the scan.
type scratch struct {
	fields     []byte
	amount     *string
	currency   *string
	members    []pgtype.UUID
	emailKey   string
	recurrence []byte
}

// spec describes how record type T is stored and F filters it.
type spec[T any, F any] struct {
	typ   string // record type, as in error messages
	table string // table name without schema
	cols  []column
	// values returns the values of cols for v, in order.
	values func(v *T) ([]any, error)
	// dests returns scan destinations for cols into v and s.
	dests func(v *T, s *scratch) []any
	// decode finishes v from s after a scan.
	decode func(v *T, s *scratch) error
	// where adds the filter's conditions to q.
	where func(f *F, q *query)
	// unique checks unique keys other than the ID before an update, so that
	// a clash inside a unit of work is reported without aborting it.
	unique func(ctx context.Context, q DBTX, v *T) error
	// tree marks departments: writes lock the tenant's tree and check the
	// parent, deletes refuse a department with children.
	tree bool
}

// table is a spec with its SQL rendered for one schema.
type table[T any, F any] struct {
	spec[T, F]
	name                                       string // qualified table name
	get, insert, update, del, version, lockRow string
	getMany                                    string // get by ID = ANY($1)
	// copyCols are the columns of a COPY of new records, nil when a
	// column needs a cast that COPY cannot make.
	copyCols []string
	list     string // SELECT ... WHERE tenant_id = $1
	// refTypes are the record types the records may refer to
	// (crm.ReferenceTypes); insert and update take one uuid[] of referenced
	// IDs per type after their other arguments, and write nothing when one
	// of them is a record of another tenant.
	refTypes []crm.RecordType
	// foreign lists the referenced IDs that belong to another tenant, as
	// (index into refTypes, id), taking the tenant and then the arrays.
	foreign string
	// idTenant tells whether the record id belongs to another tenant than $2.
	idTenant string
}

// refTables are the tables of the record types a reference may name.
var refTables = map[crm.RecordType]string{
	crm.TypeLead: "crm_leads", crm.TypeCustomer: "crm_customers", crm.TypeContact: "crm_contacts",
	crm.TypeOpportunity: "crm_opportunities", crm.TypeActivity: "crm_activities", crm.TypeTicket: "crm_tickets",
	crm.TypeUser: "crm_users", crm.TypeDepartment: "crm_departments", crm.TypeTeam: "crm_teams",
	crm.TypeTask: "crm_tasks", crm.TypePool: "crm_pools",
}

// notForeign renders the condition that no ID in the arrays from parameter
// first on belongs to a tenant other than the parameter tenant: one primary
// key lookup per referenced ID, in the statement that writes.
func notForeign(schema string, types []crm.RecordType, first int, tenant string) string {
	var conds []string
	for i, typ := range types {
		conds = append(conds, "NOT EXISTS (SELECT 1 FROM "+pgx.Identifier{schema, refTables[typ]}.Sanitize()+
			" WHERE id = ANY($"+strconv.Itoa(first+i)+"::uuid[]) AND tenant_id <> "+tenant+")")
	}
	return strings.Join(conds, " AND ")
}

func newTable[T any, F any](schema string, sp spec[T, F]) *table[T, F] {
	t := &table[T, F]{spec: sp, name: pgx.Identifier{schema, sp.table}.Sanitize()}
	sel := []string{"id", "tenant_id", "version", "created_at", "updated_at"}
	ins := []string{"id", "tenant_id", "version", "created_at", "updated_at"}
	vals := []string{"$1", "$2", "$3", "$4", "$5"}
	var set []string
	placeholder := func(c column, n int) string {
		if c.val != "" {
			return fmt.Sprintf(c.val, "$"+strconv.Itoa(n))
		}
		return "$" + strconv.Itoa(n)
	}
	for i, c := range sp.cols {
		s := c.name
		if c.sel != "" {
			s = fmt.Sprintf(c.sel, c.name)
		}
		sel = append(sel, s)
		ins = append(ins, c.name)
		vals = append(vals, placeholder(c, i+6))
		set = append(set, c.name+" = "+placeholder(c, i+5))
	}
	cols := strings.Join(sel, ", ")
	t.copyCols = ins
	for _, c := range sp.cols {
		if c.val != "" {
			t.copyCols = nil
		}
	}
	t.get = "SELECT " + cols + " FROM " + t.name + " WHERE id = $1 AND tenant_id = $2"
	// One primary key probe per ID whatever the statistics say (a plan
	// made while a table is nearly empty scans it): OFFSET 0 keeps the
	// subquery from being flattened into a join.
	t.getMany = "SELECT r.* FROM unnest($1::uuid[]) AS x(id) CROSS JOIN LATERAL (SELECT " + cols + " FROM " + t.name +
		" WHERE id = x.id AND tenant_id = $2 OFFSET 0) r"
	t.list = "SELECT " + cols + " FROM " + t.name + " WHERE tenant_id = $1"
	t.refTypes = crm.ReferenceTypes(crm.RecordType(sp.typ))
	insertIf, updateIf := "", ""
	if len(t.refTypes) > 0 {
		insertIf = " WHERE " + notForeign(schema, t.refTypes, len(sp.cols)+6, "$2")
		updateIf = " AND " + notForeign(schema, t.refTypes, len(sp.cols)+5, "$2")
		var parts []string
		for i, typ := range t.refTypes {
			parts = append(parts, "SELECT "+strconv.Itoa(i)+", id FROM "+pgx.Identifier{schema, refTables[typ]}.Sanitize()+
				" WHERE id = ANY($"+strconv.Itoa(i+2)+"::uuid[]) AND tenant_id <> $1")
		}
		t.foreign = strings.Join(parts, " UNION ALL ")
	}
	// ON CONFLICT DO NOTHING reports a clash on the ID or a unique key as
	// zero rows instead of an error, so the caller's unit of work survives;
	// so does the condition on references. INSERT ... SELECT types the
	// placeholders by their columns as VALUES would.
	t.insert = "INSERT INTO " + t.name + " (" + strings.Join(ins, ", ") + ") SELECT " + strings.Join(vals, ", ") + insertIf + " ON CONFLICT DO NOTHING"
	t.update = "UPDATE " + t.name + " SET " + strings.Join(set, ", ") + ", version = version + 1, updated_at = $4" +
		" WHERE id = $1 AND tenant_id = $2 AND version = $3" + updateIf + " RETURNING created_at"
	t.idTenant = "SELECT tenant_id <> $2 FROM " + t.name + " WHERE id = $1"
	t.del = "DELETE FROM " + t.name + " WHERE id = $1 AND tenant_id = $2 AND version = $3"
	t.version = "SELECT version FROM " + t.name + " WHERE id = $1 AND tenant_id = $2"
	t.lockRow = t.version + " FOR UPDATE"
	return t
}

// scan reads one row of the table's select list into a new record.
func (t *table[T, F]) scan(row pgx.Row) (*T, error) {
	v := new(T)
	var s scratch
	m := any(v).(crm.Entity).GetMeta()
	dests := append([]any{(*key)(&m.ID), &m.TenantID, &m.Version, &m.CreatedAt, &m.UpdatedAt}, t.dests(v, &s)...)
	if err := row.Scan(dests...); err != nil {
		return nil, err
	}
	m.CreatedAt, m.UpdatedAt = crm.StorageTime(m.CreatedAt), crm.StorageTime(m.UpdatedAt)
	if err := t.decode(v, &s); err != nil {
		return nil, fmt.Errorf("decode %s %s: %w", t.typ, m.ID, err)
	}
	// Normalise brings the optional times to UTC; pgx returns local times.
	any(v).(crm.Entity).Normalise()
	return v, nil
}

// repo is a [crm.Repository] over one table in one view.
type repo[T any, F any, PT record[T], PF listFilter[F]] struct {
	v view
	t *table[T, F]
}

// fail wraps err for op on id, leaving validation errors unchanged so that
// errors.As finds the *crm.ValidationError callers expect.
func (r repo[T, F, PT, PF]) fail(ctx context.Context, op string, id crm.ID, err error) error {
	var ve *crm.ValidationError
	if errors.As(err, &ve) {
		return err
	}
	return opError(ctx, op, r.t.typ, id, err)
}

func (r repo[T, F, PT, PF]) Get(ctx context.Context, id crm.ID) (*T, error) {
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	v, err := r.t.scan(r.v.q.QueryRow(ctx, r.t.get, key(id), crm.TenantFrom(ctx)))
	if err != nil {
		return nil, r.fail(ctx, "get", id, err)
	}
	return v, nil
}

// prepare normalises and validates a copy of v for writing, so a refused
// write leaves the caller's value as it was.
func prepare[T any, PT record[T]](v *T) (*T, error) {
	c := PT(v).Clone()
	PT(c).Normalise()
	if err := PT(c).Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func (r repo[T, F, PT, PF]) Create(ctx context.Context, v *T) error {
	if v == nil {
		return crm.Invalid("record", "is nil")
	}
	m := PT(v).GetMeta()
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "create", m.ID, err)
	}
	if err := crm.ApplyTenant(ctx, m); err != nil {
		return err
	}
	c, err := prepare[T, PT](v)
	if err != nil {
		return err
	}
	cm := PT(c).GetMeta()
	now := crm.StorageTime(r.v.s.clock.Now())
	cm.Version, cm.CreatedAt, cm.UpdatedAt = 1, now, now
	vals, err := r.t.values(c)
	if err != nil {
		return r.fail(ctx, "create", cm.ID, err)
	}
	refs := crm.References(nil, PT(c))
	refArgs, err := r.t.refArgs(refs)
	if err != nil {
		return r.fail(ctx, "create", cm.ID, err)
	}
	args := append(append([]any{key(cm.ID), cm.TenantID, cm.Version, cm.CreatedAt, cm.UpdatedAt}, vals...), refArgs...)
	auto := !r.t.tree && r.v.tx == nil
	insert := func(q DBTX) error {
		tag, err := q.Exec(ctx, r.t.insert, args...)
		if err != nil {
			return sentWrite(ctx, auto, err)
		}
		if tag.RowsAffected() == 0 {
			return r.notInserted(ctx, q, cm, refs, refArgs)
		}
		return nil
	}
	if r.t.tree {
		err = r.v.atomic(ctx, func(q pgx.Tx) error {
			if err := r.lockTree(ctx, q, cm.TenantID); err != nil {
				return err
			}
			if err := r.checkParent(ctx, q, c); err != nil {
				return err
			}
			if err := insert(q); err != nil {
				return err
			}
			return r.v.bumpDepartmentTree(ctx, q, cm.TenantID)
		})
	} else {
		err = insert(r.v.q)
	}
	if err != nil {
		return r.fail(ctx, "create", cm.ID, err)
	}
	*v = *c
	return nil
}

// CreateMany implements [crm.BulkCreator]. Records that refer to no other
// record are loaded with COPY, several times faster than inserts, in a
// savepoint. Others, and all of them when a taken ID refuses the COPY, are
// inserted with the statement Create runs, sent as one batch, one round
// trip, so a refusal is Create's. Departments (whose writes lock the tenant's tree) are created one
// by one. On error nothing of vs is written back and, inside a unit of
// work, it must be rolled back; outside one the records are written in
// one transaction.
func (r repo[T, F, PT, PF]) CreateMany(ctx context.Context, vs []*T) error {
	if len(vs) > crm.MaxBulk {
		return crm.Invalid("records", "at most %d in one call, got %d", crm.MaxBulk, len(vs))
	}
	if r.t.tree {
		for i, v := range vs {
			if err := r.Create(ctx, v); err != nil {
				return fmt.Errorf("record %d: %w", i, err)
			}
		}
		return nil
	}
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "create", crm.NilID, err)
	}
	type prepared struct {
		c       *T
		args    []any // the insert's arguments
		refs    []crm.Reference
		refArgs []any
	}
	now := crm.StorageTime(r.v.s.clock.Now())
	ps := make([]prepared, len(vs))
	for i, v := range vs {
		if v == nil {
			return crm.Invalid(fmt.Sprintf("records[%d]", i), "is nil")
		}
		if err := crm.ApplyTenant(ctx, PT(v).GetMeta()); err != nil {
			return err
		}
		c, err := prepare[T, PT](v)
		if err != nil {
			return fmt.Errorf("record %d: %w", i, err)
		}
		cm := PT(c).GetMeta()
		cm.Version, cm.CreatedAt, cm.UpdatedAt = 1, now, now
		vals, err := r.t.values(c)
		if err != nil {
			return r.fail(ctx, "create", cm.ID, err)
		}
		refs := crm.References(nil, PT(c))
		refArgs, err := r.t.refArgs(refs)
		if err != nil {
			return r.fail(ctx, "create", cm.ID, err)
		}
		ps[i] = prepared{c: c, args: append([]any{key(cm.ID), cm.TenantID, cm.Version, cm.CreatedAt, cm.UpdatedAt}, vals...), refs: refs, refArgs: refArgs}
	}
	if len(vs) == 0 {
		return nil
	}
	if r.t.copyCols != nil && !slices.ContainsFunc(ps, func(p prepared) bool { return len(p.refs) > 0 }) {
		// Records that refer to nothing need no check of other tenants'
		// IDs: COPY loads them several times faster than the inserts. It
		// runs in a savepoint; when a unique key refuses it, the inserts
		// below run instead and say which record was refused and why.
		copied := false
		err := r.v.atomic(ctx, func(tx pgx.Tx) error {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return err
			}
			defer func() { _ = sp.Rollback(ctx) }()
			_, err = sp.CopyFrom(ctx, pgx.Identifier{r.v.s.schema, r.t.table}, r.t.copyCols, pgx.CopyFromSlice(len(ps), func(i int) ([]any, error) {
				return ps[i].args, nil
			}))
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
				return nil
			}
			if err != nil {
				return err
			}
			copied = true
			return sp.Commit(ctx)
		})
		if err != nil {
			return r.fail(ctx, "create", crm.NilID, err)
		}
		if copied {
			for i, v := range vs {
				*v = *ps[i].c
			}
			return nil
		}
	}
	b := &pgx.Batch{}
	for _, p := range ps {
		b.Queue(r.t.insert, append(p.args, p.refArgs...)...)
	}
	err := r.v.atomic(ctx, func(q pgx.Tx) error {
		res := q.SendBatch(ctx, b)
		missed := -1
		for i := range ps {
			tag, err := res.Exec()
			if err != nil {
				_ = res.Close()
				return fmt.Errorf("record %d: %w", i, err)
			}
			if tag.RowsAffected() == 0 && missed < 0 {
				missed = i
			}
		}
		if err := res.Close(); err != nil {
			return err
		}
		if missed >= 0 {
			p := ps[missed]
			return fmt.Errorf("record %d: %w", missed, r.notInserted(ctx, q, PT(p.c).GetMeta(), p.refs, p.refArgs))
		}
		return nil
	})
	if err != nil {
		return r.fail(ctx, "create", crm.NilID, err)
	}
	for i, v := range vs {
		*v = *ps[i].c
	}
	return nil
}

// GetMany implements [crm.BulkGetter]: one query by primary key.
func (r repo[T, F, PT, PF]) GetMany(ctx context.Context, ids []crm.ID) ([]*T, error) {
	if len(ids) > crm.MaxBulk {
		return nil, crm.Invalid("ids", "at most %d in one call, got %d", crm.MaxBulk, len(ids))
	}
	if err := r.v.check(ctx); err != nil {
		return nil, r.fail(ctx, "get", crm.NilID, err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := r.v.q.Query(ctx, r.t.getMany, uuidArray(ids), crm.TenantFrom(ctx))
	if err != nil {
		return nil, r.fail(ctx, "get", crm.NilID, err)
	}
	defer rows.Close()
	out := make([]*T, 0, len(ids))
	for rows.Next() {
		v, err := r.t.scan(rows)
		if err != nil {
			return nil, r.fail(ctx, "get", crm.NilID, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, r.fail(ctx, "get", crm.NilID, err)
	}
	return out, nil
}

func (r repo[T, F, PT, PF]) Update(ctx context.Context, v *T) error {
	if v == nil {
		return crm.Invalid("record", "is nil")
	}
	m := PT(v).GetMeta()
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "update", m.ID, err)
	}
	tenant := crm.TenantFrom(ctx)
	if m.TenantID == "" {
		m.TenantID = tenant
	}
	if m.TenantID != tenant {
		// As for a record of another tenant: not found, unless the ID is
		// the context tenant's, which cannot move.
		if _, err := r.storedVersion(ctx, r.v.q, m.ID); err != nil {
			return r.fail(ctx, "update", m.ID, err)
		}
		return crm.Invalid("tenant_id", "cannot move a record to another tenant")
	}
	c, err := prepare[T, PT](v)
	if err != nil {
		return err
	}
	cm := PT(c).GetMeta()
	now := crm.StorageTime(r.v.s.clock.Now())
	vals, err := r.t.values(c)
	if err != nil {
		return r.fail(ctx, "update", cm.ID, err)
	}
	refs := crm.References(nil, PT(c))
	refArgs, err := r.t.refArgs(refs)
	if err != nil {
		return r.fail(ctx, "update", cm.ID, err)
	}
	args := append(append([]any{key(cm.ID), tenant, cm.Version, now}, vals...), refArgs...)
	var created time.Time
	update := func(q DBTX) error {
		if r.t.unique != nil {
			if err := r.t.unique(ctx, q, c); err != nil {
				return err
			}
		}
		err := q.QueryRow(ctx, r.t.update, args...).Scan(&created)
		err = sentWrite(ctx, !r.t.tree && r.v.tx == nil, err)
		if errors.Is(err, pgx.ErrNoRows) {
			if err := r.staleOrMissing(ctx, q, cm.ID, cm.Version); err != nil {
				return err
			}
			return r.foreignRefs(ctx, q, tenant, refs, refArgs)
		}
		return err
	}
	if r.t.tree {
		err = r.v.atomic(ctx, func(q pgx.Tx) error {
			if err := r.lockTree(ctx, q, tenant); err != nil {
				return err
			}
			// Refuse a stale version before judging the move, as memstore
			// does: a conflict says more than a cycle found in old data.
			if err := r.lockVersion(ctx, q, cm.ID, cm.Version); err != nil {
				return err
			}
			if err := r.checkParent(ctx, q, c); err != nil {
				return err
			}
			if err := update(q); err != nil {
				return err
			}
			return r.v.bumpDepartmentTree(ctx, q, tenant)
		})
	} else {
		err = update(r.v.q)
	}
	if err != nil {
		return r.fail(ctx, "update", cm.ID, err)
	}
	cm.Version++
	cm.CreatedAt, cm.UpdatedAt = crm.StorageTime(created), now
	*v = *c
	return nil
}

func (r repo[T, F, PT, PF]) Delete(ctx context.Context, id crm.ID, version int64) error {
	if err := r.v.check(ctx); err != nil {
		return r.fail(ctx, "delete", id, err)
	}
	tenant := crm.TenantFrom(ctx)
	del := func(q DBTX) error {
		tag, err := q.Exec(ctx, r.t.del, key(id), tenant, version)
		if err != nil {
			return sentWrite(ctx, !r.t.tree && r.v.tx == nil, err)
		}
		if tag.RowsAffected() == 0 {
			if err := r.staleOrMissing(ctx, q, id, version); err != nil {
				return err
			}
			return fmt.Errorf("the record changed during the delete: %w", crm.ErrConflict)
		}
		return nil
	}
	var err error
	if r.t.tree {
		err = r.v.atomic(ctx, func(q pgx.Tx) error {
			if err := r.lockTree(ctx, q, tenant); err != nil {
				return err
			}
			if err := r.lockVersion(ctx, q, id, version); err != nil {
				return err
			}
			if err := r.checkNoChildren(ctx, q, id); err != nil {
				return err
			}
			if err := del(q); err != nil {
				return err
			}
			return r.v.bumpDepartmentTree(ctx, q, tenant)
		})
	} else {
		err = del(r.v.q)
	}
	if err != nil {
		return r.fail(ctx, "delete", id, err)
	}
	return nil
}

// storedVersion returns the version of the context tenant's record id, or
// an error matching crm.ErrNotFound.
func (r repo[T, F, PT, PF]) storedVersion(ctx context.Context, q DBTX, id crm.ID) (int64, error) {
	var v int64
	if err := q.QueryRow(ctx, r.t.version, key(id), crm.TenantFrom(ctx)).Scan(&v); err != nil {
		return 0, err
	}
	return v, nil
}

// staleOrMissing explains why a version-conditional write touched no row:
// a missing record or a stale version. It returns nil when the version is
// current, which leaves the write's other conditions to blame.
func (r repo[T, F, PT, PF]) staleOrMissing(ctx context.Context, q DBTX, id crm.ID, version int64) error {
	stored, err := r.storedVersion(ctx, q, id)
	if err != nil {
		return err
	}
	if stored == version {
		return nil
	}
	return staleVersion(version, stored)
}

// refArgs groups the IDs of refs by record type into the uuid[] arguments
// the insert and update statements end with.
func (t *table[T, F]) refArgs(refs []crm.Reference) ([]any, error) {
	arrays := make([][]pgtype.UUID, len(t.refTypes))
	for _, ref := range refs {
		i := slices.Index(t.refTypes, ref.Type)
		if i < 0 {
			return nil, fmt.Errorf("%s refers to a %s, which crm.ReferenceTypes does not list", ref.Field, ref.Type)
		}
		arrays[i] = append(arrays[i], pgtype.UUID{Bytes: ref.ID, Valid: true})
	}
	out := make([]any, len(arrays))
	for i, a := range arrays {
		out[i] = a
	}
	return out, nil
}

// notInserted explains why an insert wrote no row: the ID is another
// tenant's, or the context tenant's own, a reference names another
// tenant's record, or a unique key is taken. It costs one or two queries,
// on the failure path only.
func (r repo[T, F, PT, PF]) notInserted(ctx context.Context, q DBTX, m *crm.Meta, refs []crm.Reference, refArgs []any) error {
	var foreign bool
	err := q.QueryRow(ctx, r.t.idTenant, key(m.ID), m.TenantID).Scan(&foreign)
	switch {
	case err == nil && foreign:
		return crm.IDTakenByAnotherTenant()
	case err == nil:
		return crm.ErrAlreadyExists
	case !errors.Is(err, pgx.ErrNoRows):
		return err
	}
	if err := r.foreignRefs(ctx, q, m.TenantID, refs, refArgs); !errors.Is(err, crm.ErrConflict) {
		return err
	}
	return crm.ErrAlreadyExists
}

// foreignRefs returns a [crm.ValidationErrors] naming every field of refs
// that names a record of a tenant other than tenant; when there is none, an
// error matching [crm.ErrConflict], since a write conditional on the
// references found one a moment ago.
func (r repo[T, F, PT, PF]) foreignRefs(ctx context.Context, q DBTX, tenant string, refs []crm.Reference, refArgs []any) error {
	if len(refs) == 0 {
		return fmt.Errorf("the record changed during the write: %w", crm.ErrConflict)
	}
	rows, err := q.Query(ctx, r.t.foreign, append([]any{tenant}, refArgs...)...)
	if err != nil {
		return err
	}
	type found struct {
		typ crm.RecordType
		id  crm.ID
	}
	var foreign []found
	for rows.Next() {
		var i int
		var id crm.ID
		if err := rows.Scan(&i, (*key)(&id)); err != nil {
			rows.Close()
			return err
		}
		foreign = append(foreign, found{r.t.refTypes[i], id})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var errs crm.ValidationErrors
	for _, ref := range refs {
		if slices.Contains(foreign, found{ref.Type, ref.ID}) {
			errs = append(errs, crm.ForeignReference(ref.Field))
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("a record the write refers to changed during the write: %w", crm.ErrConflict)
	}
	return errs
}

func staleVersion(version, stored int64) error {
	return fmt.Errorf("version %d is stale, stored version is %d: %w", version, stored, crm.ErrConflict)
}

// lockVersion locks the row and checks its version.
func (r repo[T, F, PT, PF]) lockVersion(ctx context.Context, q DBTX, id crm.ID, version int64) error {
	var stored int64
	if err := q.QueryRow(ctx, r.t.lockRow, key(id), crm.TenantFrom(ctx)).Scan(&stored); err != nil {
		return err
	}
	if stored != version {
		return staleVersion(version, stored)
	}
	return nil
}

func (r repo[T, F, PT, PF]) List(ctx context.Context, f F, page crm.PageRequest) (crm.Page[T], error) {
	limit, after, err := page.Resolve()
	if err != nil {
		return crm.Page[T]{}, err
	}
	if err := PF(&f).Validate(); err != nil {
		return crm.Page[T]{}, err
	}
	if err := r.v.check(ctx); err != nil {
		return crm.Page[T]{}, fmt.Errorf("pgstore: list %s: %w", r.t.typ, dbError(ctx, err))
	}
	q := newQuery(r.t.list, crm.TenantFrom(ctx))
	if after != crm.NilID {
		q.and("id > ", q.arg(key(after)))
	}
	r.t.where(&f, q)
	sql := q.sql.String()
	if q.selective {
		// OFFSET 0 keeps PostgreSQL from flattening the subquery, so the
		// filter's own index finds the rows, which are then ordered.
		sql = "SELECT * FROM (" + sql + " OFFSET 0) AS s"
	}
	sql += " ORDER BY id LIMIT " + q.arg(limit+1)
	rows, err := r.v.q.Query(ctx, sql, q.args...)
	if err != nil {
		return crm.Page[T]{}, fmt.Errorf("pgstore: list %s: %w", r.t.typ, dbError(ctx, err))
	}
	defer rows.Close()
	var out crm.Page[T]
	for rows.Next() {
		v, err := r.t.scan(rows)
		if err != nil {
			return crm.Page[T]{}, fmt.Errorf("pgstore: list %s: %w", r.t.typ, dbError(ctx, err))
		}
		out.Items = append(out.Items, v)
	}
	if err := rows.Err(); err != nil {
		return crm.Page[T]{}, fmt.Errorf("pgstore: list %s: %w", r.t.typ, dbError(ctx, err))
	}
	if len(out.Items) > limit {
		out.Items = out.Items[:limit]
		out.NextCursor = crm.CursorAfter(PT(out.Items[limit-1]).GetMeta().ID)
	}
	return out, nil
}

// Department tree rules.

// lockTree serialises changes to one tenant's department tree, so two
// concurrent moves cannot each pass the cycle check and together make a
// cycle. The lock is released when the transaction ends.
func (r repo[T, F, PT, PF]) lockTree(ctx context.Context, q DBTX, tenant string) error {
	_, err := q.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", r.v.s.schema+".crm_departments:"+tenant)
	return err
}

func (r repo[T, F, PT, PF]) checkParent(ctx context.Context, q DBTX, c *T) error {
	d, ok := any(c).(*crm.Department)
	if !ok {
		return nil
	}
	sql := r.v.s.sql.departmentParent
	return crm.CheckDepartmentParent(ctx, d, func(ctx context.Context, id crm.ID) (crm.ID, error) {
		var parent crm.ID
		err := q.QueryRow(ctx, sql, key(id), d.TenantID).Scan((*ref)(&parent))
		if errors.Is(err, pgx.ErrNoRows) {
			return crm.NilID, crm.ErrNotFound
		}
		return parent, err
	})
}

func (r repo[T, F, PT, PF]) checkNoChildren(ctx context.Context, q DBTX, id crm.ID) error {
	var child crm.ID
	err := q.QueryRow(ctx, r.v.s.sql.departmentChild, key(id), crm.TenantFrom(ctx)).Scan((*key)(&child))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("it has child department %s: %w", child, crm.ErrFailedPrecondition)
}

// key is an ID column that is never NULL: the primary key, and IDs compared
// with it. NilID is the all-zero UUID.
type key crm.ID

// ScanUUID implements pgtype.UUIDScanner.
func (k *key) ScanUUID(v pgtype.UUID) error {
	if !v.Valid {
		return errors.New("cannot scan NULL into a record ID")
	}
	*k = key(v.Bytes)
	return nil
}

// UUIDValue implements pgtype.UUIDValuer.
func (k key) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: k, Valid: true}, nil }

// ref is a reference column: NilID ("none") is NULL.
type ref crm.ID

// ScanUUID implements pgtype.UUIDScanner.
func (r *ref) ScanUUID(v pgtype.UUID) error {
	*r = ref(v.Bytes) // all zero when NULL
	return nil
}

// UUIDValue implements pgtype.UUIDValuer.
func (r ref) UUIDValue() (pgtype.UUID, error) {
	return pgtype.UUID{Bytes: r, Valid: r != ref(crm.NilID)}, nil
}
