package crm

import (
	"time"
	"unicode/utf8"
)

// Meta is the bookkeeping every stored record carries. Storage adapters own
// Version, CreatedAt and UpdatedAt: Create sets Version to 1 and both times to
// the adapter clock's now; Update requires the stored Version, increments it
// and sets UpdatedAt.
type Meta struct {
	// ID identifies the record; callers set it, usually from an
	// [IDGenerator], before Create.
	ID ID `json:"id"`
	// TenantID scopes the record to one tenant of a multi-tenant host. Empty
	// is the single default tenant. Unique keys and list filters are per
	// tenant.
	TenantID string `json:"tenant_id,omitempty"`
	// Version is the optimistic-concurrency version, 1 after Create.
	Version int64 `json:"version"`
	// CreatedAt and UpdatedAt are set by the storage adapter, in UTC with
	// microsecond precision.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// GetMeta returns the record's Meta; it lets generic code reach the shared
// fields of every entity.
func (m *Meta) GetMeta() *Meta { return m }

const maxTenantLen = 64

func (m *Meta) validate(v *Problems) {
	if m.ID == NilID {
		v.Add("id", "is required")
	}
	if len(m.TenantID) > maxTenantLen || !utf8.ValidString(m.TenantID) {
		v.Add("tenant_id", "must be valid UTF-8 of at most %d bytes", maxTenantLen)
	}
	if m.Version < 0 {
		v.Add("version", "must not be negative")
	}
}

// Entity is implemented by every stored crm record type (as a pointer). It
// lets storage adapters and the conformance suite treat records uniformly.
type Entity interface {
	// GetMeta returns a pointer to the record's bookkeeping fields.
	GetMeta() *Meta
	// RecordType names the kind of record.
	RecordType() RecordType
	// Validate reports every invalid field as [ValidationErrors].
	Validate() error
	// Normalise brings times to storage precision (UTC, microseconds).
	Normalise()
}

// RecordType names a kind of record, as used in events, activities,
// permissions and routing.
type RecordType string

// The record types of the shared vocabulary. Hosts may route or permission
// their own types too; any non-empty lower-case name is accepted there.
const (
	TypeLead        RecordType = "lead"
	TypeCustomer    RecordType = "customer"
	TypeContact     RecordType = "contact"
	TypeOpportunity RecordType = "opportunity"
	TypeActivity    RecordType = "activity"
	TypeTicket      RecordType = "ticket"
	TypeUser        RecordType = "user"
	TypeDepartment  RecordType = "department"
	TypeTeam        RecordType = "team"
	TypeTask        RecordType = "task"
)

// Valid reports whether t is one of the shared record types.
func (t RecordType) Valid() bool {
	switch t {
	case TypeLead, TypeCustomer, TypeContact, TypeOpportunity, TypeActivity,
		TypeTicket, TypeUser, TypeDepartment, TypeTeam, TypeTask:
		return true
	}
	return false
}

// Ref points at one record of any type.
type Ref struct {
	Type RecordType `json:"type"`
	ID   ID         `json:"id"`
}

// IsZero reports whether r points nowhere.
func (r Ref) IsZero() bool { return r.Type == "" && r.ID == NilID }

// text limits shared by the entities, in characters.
const (
	maxName  = 200
	maxShort = 64
	maxText  = 10000
	maxList  = 100
)

func required(v *Problems, field, s string, max int) {
	if s == "" {
		v.Add(field, "is required")
		return
	}
	checkText(v, field, s, max)
}

func optional(v *Problems, field, s string, max int) {
	if s != "" {
		checkText(v, field, s, max)
	}
}

func stringList(v *Problems, field string, ss []string, max int) {
	if len(ss) > maxList {
		v.Add(field, "has more than %d items", maxList)
	}
	seen := make(map[string]struct{}, len(ss))
	for i, s := range ss {
		f := field + "[" + itoa(i) + "]"
		required(v, f, s, max)
		if _, dup := seen[s]; dup {
			v.Add(f, "repeats %q", truncate(s, 32))
		}
		seen[s] = struct{}{}
	}
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
