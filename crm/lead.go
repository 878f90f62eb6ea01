package crm

import (
	"slices"
	"strings"
	"time"
)

// LeadStatus is a lead's lifecycle stage. The lead package owns the rules
// for moving between stages; this type only names them.
type LeadStatus string

// Lead lifecycle stages.
const (
	LeadNew          LeadStatus = "new"
	LeadContacted    LeadStatus = "contacted"
	LeadMQL          LeadStatus = "marketing_qualified"
	LeadSQL          LeadStatus = "sales_qualified"
	LeadConverted    LeadStatus = "converted"
	LeadDisqualified LeadStatus = "disqualified"
)

// Valid reports whether s is a known stage.
func (s LeadStatus) Valid() bool {
	switch s {
	case LeadNew, LeadContacted, LeadMQL, LeadSQL, LeadConverted, LeadDisqualified:
		return true
	}
	return false
}

// Lead is a prospective buyer not yet qualified into a customer. Safe for
// concurrent reads; callers must not mutate a Lead shared across goroutines.
type Lead struct {
	Meta
	// Name is the person's name; Company the organisation they work for. At
	// least one of them is required.
	Name    string `json:"name,omitempty"`
	Company string `json:"company,omitempty"`
	Title   string `json:"title,omitempty"`
	Email   string `json:"email,omitempty"`
	Phone   string `json:"phone,omitempty"`
	// Industry, Region and Source are host-defined codes, such as
	// "manufacturing", "cn-east" or "web_form".
	Industry    string `json:"industry,omitempty"`
	Region      string `json:"region,omitempty"`
	Source      string `json:"source,omitempty"`
	CompanySize int    `json:"company_size,omitempty"`
	// Status is the lifecycle stage; empty is stored as [LeadNew].
	Status LeadStatus `json:"status"`
	// DisqualifyReason is required when Status is [LeadDisqualified].
	DisqualifyReason string `json:"disqualify_reason,omitempty"`
	OwnerID          ID     `json:"owner_id,omitzero"`
	DepartmentID     ID     `json:"department_id,omitzero"`
	CreatedBy        ID     `json:"created_by,omitzero"`
	// Converted* link a converted lead to what it became.
	ConvertedCustomerID    ID         `json:"converted_customer_id,omitzero"`
	ConvertedContactID     ID         `json:"converted_contact_id,omitzero"`
	ConvertedOpportunityID ID         `json:"converted_opportunity_id,omitzero"`
	ConvertedAt            *time.Time `json:"converted_at,omitempty"`
	Tags                   []string   `json:"tags,omitempty"`
	Fields                 Fields     `json:"fields,omitempty"`
}

// RecordType returns [TypeLead].
func (*Lead) RecordType() RecordType { return TypeLead }

// Clone returns a deep copy.
func (l *Lead) Clone() *Lead {
	c := *l
	c.ConvertedAt = clonePtr(l.ConvertedAt)
	c.Tags = slices.Clone(l.Tags)
	c.Fields = l.Fields.Clone()
	return &c
}

// Normalise defaults the status and brings times to storage precision.
func (l *Lead) Normalise() {
	if l.Status == "" {
		l.Status = LeadNew
	}
	l.ConvertedAt = storageTimePtr(l.ConvertedAt)
}

// Validate reports every invalid field.
func (l *Lead) Validate() error {
	var v Problems
	l.Meta.validate(&v)
	if strings.TrimSpace(l.Name) == "" && strings.TrimSpace(l.Company) == "" {
		v.Add("name", "name or company is required")
	}
	optional(&v, "name", l.Name, maxName)
	optional(&v, "company", l.Company, maxName)
	optional(&v, "title", l.Title, maxName)
	validEmail(&v, "email", l.Email)
	optional(&v, "phone", l.Phone, maxShort)
	optional(&v, "industry", l.Industry, maxShort)
	optional(&v, "region", l.Region, maxShort)
	optional(&v, "source", l.Source, maxShort)
	if l.CompanySize < 0 {
		v.Add("company_size", "must not be negative")
	}
	if l.Status != "" && !l.Status.Valid() {
		v.Add("status", "unknown lead status %q", truncate(string(l.Status), 32))
	}
	optional(&v, "disqualify_reason", l.DisqualifyReason, maxName)
	if l.Status == LeadDisqualified && l.DisqualifyReason == "" {
		v.Add("disqualify_reason", "is required for a disqualified lead")
	}
	if l.Status == LeadConverted && l.ConvertedCustomerID == NilID {
		v.Add("converted_customer_id", "is required for a converted lead")
	}
	stringList(&v, "tags", l.Tags, maxShort)
	v.Prefix = "fields."
	v.Merge(l.Fields.Validate())
	return v.Err()
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func validEmail(v *Problems, field, s string) {
	if s == "" {
		return
	}
	checkText(v, field, s, 254)
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n") {
		v.Add(field, "not an email address: %q", truncate(s, 64))
	}
}
