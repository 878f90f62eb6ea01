package memstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/crmkit/crmkit/crm"
)

var _ crm.DepartmentTreeVersions = tx{}

// DepartmentTreeVersion implements [crm.DepartmentTreeVersions]: the count
// of the context tenant's departments, a sum of hashes of each one's ID and
// version, and their latest change, so any create, update or delete
// changes it.
func (t tx) DepartmentTreeVersion(ctx context.Context) (string, error) {
	unlock, err := t.begin(ctx, false)
	if err != nil {
		return "", fmt.Errorf("memstore: department tree version: %w", err)
	}
	defer unlock()
	tenant := crm.TenantFrom(ctx)
	var n int
	var sum uint64
	var latest int64
	for id, d := range t.s.departments.rows {
		if d.TenantID != tenant {
			continue
		}
		n++
		h := fnv.New64a()
		h.Write(id[:])
		h.Write(strconv.AppendInt(nil, d.Version, 10))
		sum += h.Sum64()
		latest = max(latest, d.UpdatedAt.UnixMicro())
	}
	return strconv.Itoa(n) + ":" + strconv.FormatUint(sum, 16) + ":" + strconv.FormatInt(latest, 10), nil
}
