package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
)

var _ crm.DepartmentTreeVersions = view{}

// DepartmentTreeVersion implements [crm.DepartmentTreeVersions] with one
// primary-key read of the tenant's counter, which every department write
// bumps in its own transaction ("0" before the first write since
// migration 0010).
func (v view) DepartmentTreeVersion(ctx context.Context) (string, error) {
	if err := v.check(ctx); err != nil {
		return "", fmt.Errorf("pgstore: department tree version: %w", err)
	}
	var n int64
	err := v.q.QueryRow(ctx, "SELECT version FROM "+v.departmentTreeVersions()+" WHERE tenant_id = $1", crm.TenantFrom(ctx)).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("pgstore: department tree version: %w", dbError(ctx, err))
	}
	return strconv.FormatInt(n, 10), nil
}

// bumpDepartmentTree counts one department write of tenant, inside q, the
// write's transaction (which holds the tenant's tree lock).
func (v view) bumpDepartmentTree(ctx context.Context, q DBTX, tenant string) error {
	_, err := q.Exec(ctx, "INSERT INTO "+v.departmentTreeVersions()+" AS t (tenant_id, version) VALUES ($1, 1)"+
		" ON CONFLICT (tenant_id) DO UPDATE SET version = t.version + 1", tenant)
	return err
}

func (v view) departmentTreeVersions() string {
	return pgx.Identifier{v.s.schema, "crm_department_tree_versions"}.Sanitize()
}
