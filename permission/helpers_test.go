package permission_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/permission"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// id returns a readable fixed ID: departments are 1-9, pools 0x101, users
// 0x1000 and up.
func id(n int) crm.ID { return uuid.MustParse(fmt.Sprintf("00000000-0000-0000-0000-%012x", n)) }

var (
	company    = id(1)
	management = id(2)
	marketing  = id(3)
	sales      = id(4)
	salesEast  = id(5)
	salesWest  = id(6)
	service    = id(7)
	finance    = id(8)
	itDept     = id(9)
	pool       = id(0x101)
)

func departments() []*crm.Department {
	d := func(id crm.ID, name string, parent crm.ID) *crm.Department {
		return &crm.Department{Meta: crm.Meta{ID: id}, Name: name, ParentID: parent}
	}
	return []*crm.Department{
		d(company, "Company", crm.NilID),
		d(management, "Management", company),
		d(marketing, "Marketing", company),
		d(sales, "Sales", company),
		d(salesEast, "Sales East", sales),
		d(salesWest, "Sales West", sales),
		d(service, "Service", company),
		d(finance, "Finance", company),
		d(itDept, "IT", company),
	}
}

func policyJSON(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/crm_policy.json")
	require.NoError(t, err)
	return b
}

func loadPolicy(t testing.TB, cfg *permission.Config) *permission.Policy {
	t.Helper()
	p, err := permission.Load(policyJSON(t), departments(), cfg)
	require.NoError(t, err)
	return p
}

func user(n int, dept crm.ID, roles ...string) *crm.User {
	return &crm.User{Meta: crm.Meta{ID: id(0x1000 + n)}, Name: fmt.Sprintf("user %d", n), Email: fmt.Sprintf("u%d@example.com", n), DepartmentID: dept, Roles: roles, Active: true}
}
