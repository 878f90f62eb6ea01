package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/crmkit/crmkit/crm"
)

var _ crm.DepartmentTreeVersions = view{}

// DepartmentTreeVersion implements [crm.DepartmentTreeVersions] with one
// aggregate read of the context tenant's departments: their count, a sum
// of hashes of each one's ID and version, and their latest change, so any
// create, update or delete changes it.
func (v view) DepartmentTreeVersion(ctx context.Context) (string, error) {
	if err := v.check(ctx); err != nil {
		return "", fmt.Errorf("pgstore: department tree version: %w", err)
	}
	table := pgx.Identifier{v.s.schema, "crm_departments"}.Sanitize()
	var out string
	err := v.q.QueryRow(ctx, `SELECT count(*)::text || ':' || coalesce(sum(hashtext(id::text || ':' || version::text)::bigint), 0)::text
		|| ':' || coalesce((extract(epoch FROM max(updated_at)) * 1000000)::bigint, 0)::text
		FROM `+table+` WHERE tenant_id = $1`, crm.TenantFrom(ctx)).Scan(&out)
	if err != nil {
		return "", fmt.Errorf("pgstore: department tree version: %w", dbError(ctx, err))
	}
	return out, nil
}
