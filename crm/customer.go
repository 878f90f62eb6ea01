package crm

import (
	"slices"
	"strings"
	"time"
)

// CustomerKind says whether a customer is an organisation or a person.
type CustomerKind string

// Customer kinds.
const (
	CustomerCompany CustomerKind = "company"
	CustomerPerson  CustomerKind = "person"
)

// CustomerStatus is where a customer stands commercially.
type CustomerStatus string

// Customer statuses.
const (
	// CustomerPotential has not bought yet.
	CustomerPotential CustomerStatus = "potential"
	// CustomerDealt has closed at least one deal.
	CustomerDealt CustomerStatus = "dealt"
	// CustomerLost was a customer and stopped buying.
	CustomerLost CustomerStatus = "lost"
)

// Valid reports whether s is a known status.
func (s CustomerStatus) Valid() bool {
	return s == CustomerPotential || s == CustomerDealt || s == CustomerLost
}

// Customer is an account: a company or a person the business sells to. A
// customer is owned by one user (OwnerID) or sits in a public pool (PoolID),
// or, just created, neither. Safe for concurrent reads.
type Customer struct {
	Meta
	Kind CustomerKind `json:"kind"`
	Name string       `json:"name"`
	// Level is a host-defined tier such as "A", "B", "key_account".
	Level    string         `json:"level,omitempty"`
	Industry string         `json:"industry,omitempty"`
	Region   string         `json:"region,omitempty"`
	Source   string         `json:"source,omitempty"`
	Status   CustomerStatus `json:"status"`
	Phone    string         `json:"phone,omitempty"`
	Email    string         `json:"email,omitempty"`
	Address  string         `json:"address,omitempty"`
	Website  string         `json:"website,omitempty"`
	// OwnerID is the salesperson who owns the customer; NilID when unowned.
	OwnerID      ID `json:"owner_id,omitzero"`
	DepartmentID ID `json:"department_id,omitzero"`
	// PoolID is the public pool holding the customer; NilID when not pooled.
	// A customer is never both owned and pooled.
	PoolID         ID         `json:"pool_id,omitzero"`
	CreatedBy      ID         `json:"created_by,omitzero"`
	LastFollowUpAt *time.Time `json:"last_follow_up_at,omitempty"`
	LastDealAt     *time.Time `json:"last_deal_at,omitempty"`
	// Tags are free labels ("vip", "expo-2026") that segments select by.
	// Normalise trims them and folds them to lower case; Validate then
	// refuses an empty tag, one over 64 characters, a repeat, and more
	// than 100 tags, naming the tag ("tags[2]").
	Tags   []string `json:"tags,omitempty"`
	Fields Fields   `json:"fields,omitempty"`
}

// RecordType returns [TypeCustomer].
func (*Customer) RecordType() RecordType { return TypeCustomer }

// Clone returns a deep copy.
func (c *Customer) Clone() *Customer {
	out := *c
	out.LastFollowUpAt = clonePtr(c.LastFollowUpAt)
	out.LastDealAt = clonePtr(c.LastDealAt)
	out.Tags = slices.Clone(c.Tags)
	out.Fields = c.Fields.Clone()
	return &out
}

// NormaliseTag is how a customer's tag is stored and compared: trimmed of
// surrounding white space and folded to lower case.
func NormaliseTag(tag string) string { return strings.ToLower(strings.TrimSpace(tag)) }

// Normalise defaults kind and status, normalises tags ([NormaliseTag]) and
// brings times to storage precision.
func (c *Customer) Normalise() {
	if c.Kind == "" {
		c.Kind = CustomerCompany
	}
	if c.Status == "" {
		c.Status = CustomerPotential
	}
	c.LastFollowUpAt = storageTimePtr(c.LastFollowUpAt)
	c.LastDealAt = storageTimePtr(c.LastDealAt)
	for i, t := range c.Tags {
		c.Tags[i] = NormaliseTag(t)
	}
}

// Validate reports every invalid field.
func (c *Customer) Validate() error {
	var v Problems
	c.Meta.validate(&v)
	if c.Kind != "" && c.Kind != CustomerCompany && c.Kind != CustomerPerson {
		v.Add("kind", "must be company or person, got %q", truncate(string(c.Kind), 32))
	}
	if strings.TrimSpace(c.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", c.Name, maxName)
	}
	optional(&v, "level", c.Level, maxShort)
	optional(&v, "industry", c.Industry, maxShort)
	optional(&v, "region", c.Region, maxShort)
	optional(&v, "source", c.Source, maxShort)
	if c.Status != "" && !c.Status.Valid() {
		v.Add("status", "unknown customer status %q", truncate(string(c.Status), 32))
	}
	optional(&v, "phone", c.Phone, maxShort)
	validEmail(&v, "email", c.Email)
	optional(&v, "address", c.Address, 500)
	optional(&v, "website", c.Website, 500)
	if c.OwnerID != NilID && c.PoolID != NilID {
		v.Add("pool_id", "an owned customer cannot be in a pool")
	}
	stringList(&v, "tags", c.Tags, maxShort)
	v.Prefix = "fields."
	v.Merge(c.Fields.Validate())
	return v.Err()
}

// MergedIntoField is the custom field that marks a customer merged into
// another one: its value is the survivor's ID. A merged customer is kept
// (so a merge can be undone) but takes part in nothing any more: it holds no
// match keys and no pool operation accepts it.
const MergedIntoField = "merged_into"

// MergedInto returns the survivor a merged customer was merged into, and
// whether it was merged at all.
func (c *Customer) MergedInto() (ID, bool) {
	v, ok := c.Fields[MergedIntoField]
	if !ok {
		return NilID, false
	}
	s, _ := v.Str()
	id, err := ParseID(MergedIntoField, s)
	if err != nil {
		return NilID, true
	}
	return id, true
}
