package cond

import (
	"github.com/crmkit/crmkit/crm"
)

// CustomFieldPrefix is the prefix under which the schemas of this package
// expose a record's custom fields: "fields.budget" tests Fields["budget"].
const CustomFieldPrefix = "fields."

// The fields of a lead as conditions see them, in slot order.
const (
	leadName = iota
	leadCompany
	leadTitle
	leadEmail
	leadPhone
	leadIndustry
	leadRegion
	leadSource
	leadStatus
	leadCompanySize
	leadTags
	leadOwner
	leadDepartment
	leadCreator
)

// The fields of a customer as conditions see them, in slot order.
const (
	customerName = iota
	customerKind
	customerLevel
	customerIndustry
	customerRegion
	customerSource
	customerStatus
	customerPhone
	customerEmail
	customerAddress
	customerWebsite
	customerOwner
	customerDepartment
	customerPool
	customerCreator
	customerTags
)

var (
	leadSchema = mustSchema([]Field{
		{Name: "name", Kind: KindString}, {Name: "company", Kind: KindString}, {Name: "title", Kind: KindString},
		{Name: "email", Kind: KindString}, {Name: "phone", Kind: KindString}, {Name: "industry", Kind: KindString},
		{Name: "region", Kind: KindString}, {Name: "source", Kind: KindString}, {Name: "status", Kind: KindString},
		{Name: "company_size", Kind: KindNumber}, {Name: "tags", Kind: KindStrings},
		{Name: "owner_id", Kind: KindID}, {Name: "department_id", Kind: KindID}, {Name: "created_by", Kind: KindID},
	}, true)
	customerSchema = mustSchema([]Field{
		{Name: "name", Kind: KindString}, {Name: "kind", Kind: KindString}, {Name: "level", Kind: KindString},
		{Name: "industry", Kind: KindString}, {Name: "region", Kind: KindString}, {Name: "source", Kind: KindString},
		{Name: "status", Kind: KindString}, {Name: "phone", Kind: KindString}, {Name: "email", Kind: KindString},
		{Name: "address", Kind: KindString}, {Name: "website", Kind: KindString},
		{Name: "owner_id", Kind: KindID}, {Name: "department_id", Kind: KindID}, {Name: "pool_id", Kind: KindID},
		{Name: "created_by", Kind: KindID}, {Name: "tags", Kind: KindStrings},
	}, false)
)

func mustSchema(fields []Field, events bool) *Schema {
	s, err := NewSchema(fields...)
	if err == nil {
		s, err = s.WithCustomFields(CustomFieldPrefix)
	}
	if err != nil {
		panic("cond: built-in schema: " + err.Error())
	}
	if events {
		s = s.WithEvents()
	}
	return s
}

// LeadSchema is the schema of a [crm.Lead]: name, company, title, email,
// phone, industry, region, source and status (string), company_size
// (number), tags (strings), owner_id, department_id and created_by (id),
// custom fields as "fields.<name>", and the lead's engagement events.
// Lead scoring rules are written against it; [FillLead] fills its
// records.
func LeadSchema() *Schema { return leadSchema }

// CustomerSchema is the schema of a [crm.Customer]: name, kind, level,
// industry, region, source, status, phone, email, address and website
// (string), owner_id, department_id, pool_id and created_by (id), tags
// (strings), and custom fields as "fields.<name>". Pool entry rules are written against
// it; [FillCustomer] fills its records.
func CustomerSchema() *Schema { return customerSchema }

// FillLead resets r and fills it from l. On a record of [LeadSchema] it
// sets every field by slot and does not allocate once r's buffers have
// grown. On a record of another schema it sets each field the schema
// declares under a lead attribute's name with the matching kind, then the
// schema's string fields named like a text custom field the lead has (a
// lead attribute of the same name wins) and, when the schema has custom
// fields, the lead's custom fields. Empty attributes stay unset.
func FillLead(r *Record, l *crm.Lead) error {
	r.Reset()
	if sameFields(r.schema, leadSchema) {
		v := r.vals
		text(&v[leadName], l.Name)
		text(&v[leadCompany], l.Company)
		text(&v[leadTitle], l.Title)
		text(&v[leadEmail], l.Email)
		text(&v[leadPhone], l.Phone)
		text(&v[leadIndustry], l.Industry)
		text(&v[leadRegion], l.Region)
		text(&v[leadSource], l.Source)
		text(&v[leadStatus], string(l.Status))
		if l.CompanySize != 0 {
			v[leadCompanySize] = value{state: set, num: intNumber(int64(l.CompanySize))}
		}
		if len(l.Tags) > 0 {
			list(&v[leadTags], l.Tags)
		}
		ident(&v[leadOwner], l.OwnerID)
		ident(&v[leadDepartment], l.DepartmentID)
		ident(&v[leadCreator], l.CreatedBy)
		r.custom = l.Fields
		return nil
	}
	return fillByName(r, l.Fields, []namedText{
		{"name", l.Name}, {"company", l.Company}, {"title", l.Title}, {"email", l.Email}, {"phone", l.Phone},
		{"industry", l.Industry}, {"region", l.Region}, {"source", l.Source}, {"status", string(l.Status)},
	}, []namedID{{"owner_id", l.OwnerID}, {"department_id", l.DepartmentID}, {"created_by", l.CreatedBy}},
		func() error {
			if f, ok := r.schema.Field("company_size"); ok && f.Kind == KindNumber && l.CompanySize != 0 {
				if err := r.SetInt("company_size", int64(l.CompanySize)); err != nil {
					return err
				}
			}
			if f, ok := r.schema.Field("tags"); ok && f.Kind == KindStrings && len(l.Tags) > 0 {
				return r.SetStrings("tags", l.Tags...)
			}
			return nil
		})
}

// FillCustomer resets r and fills it from c, as [FillLead] does for
// leads: by slot on a record of [CustomerSchema], by name otherwise.
func FillCustomer(r *Record, c *crm.Customer) error {
	r.Reset()
	if sameFields(r.schema, customerSchema) {
		v := r.vals
		text(&v[customerName], c.Name)
		text(&v[customerKind], string(c.Kind))
		text(&v[customerLevel], c.Level)
		text(&v[customerIndustry], c.Industry)
		text(&v[customerRegion], c.Region)
		text(&v[customerSource], c.Source)
		text(&v[customerStatus], string(c.Status))
		text(&v[customerPhone], c.Phone)
		text(&v[customerEmail], c.Email)
		text(&v[customerAddress], c.Address)
		text(&v[customerWebsite], c.Website)
		ident(&v[customerOwner], c.OwnerID)
		ident(&v[customerDepartment], c.DepartmentID)
		ident(&v[customerPool], c.PoolID)
		ident(&v[customerCreator], c.CreatedBy)
		if len(c.Tags) > 0 {
			list(&v[customerTags], c.Tags)
		}
		r.custom = c.Fields
		return nil
	}
	return fillByName(r, c.Fields, []namedText{
		{"name", c.Name}, {"kind", string(c.Kind)}, {"level", c.Level}, {"industry", c.Industry}, {"region", c.Region},
		{"source", c.Source}, {"status", string(c.Status)}, {"phone", c.Phone}, {"email", c.Email},
		{"address", c.Address}, {"website", c.Website},
	}, []namedID{{"owner_id", c.OwnerID}, {"department_id", c.DepartmentID}, {"pool_id", c.PoolID}, {"created_by", c.CreatedBy}},
		func() error {
			if f, ok := r.schema.Field("tags"); ok && f.Kind == KindStrings && len(c.Tags) > 0 {
				return r.SetStrings("tags", c.Tags...)
			}
			return nil
		})
}

func text(v *value, s string) {
	if s != "" {
		*v = value{state: set, s: s, ascii: isASCII(s), ss: v.ss[:0]}
	}
}

func list(v *value, ss []string) {
	ascii := true
	for _, s := range ss {
		ascii = ascii && isASCII(s)
	}
	*v = value{state: set, ascii: ascii, ss: append(v.ss[:0], ss...)}
}

func ident(v *value, id crm.ID) {
	if id != crm.NilID {
		*v = value{state: set, id: id}
	}
}

type namedText struct{ name, v string }

type namedID struct {
	name string
	v    crm.ID
}

func fillByName(r *Record, custom crm.Fields, texts []namedText, ids []namedID, rest func() error) error {
	s := r.schema
	isKind := func(name string, k Kind) bool {
		f, ok := s.Field(name)
		return ok && f.Kind == k
	}
	// Custom text fields first, so a record attribute of the same name wins.
	for name, v := range custom {
		if str, ok := v.Str(); ok && str != "" && isKind(name, KindString) {
			if err := r.SetString(name, str); err != nil {
				return err
			}
		}
	}
	for _, t := range texts {
		if t.v != "" && isKind(t.name, KindString) {
			if err := r.SetString(t.name, t.v); err != nil {
				return err
			}
		}
	}
	for _, t := range ids {
		if t.v != crm.NilID && isKind(t.name, KindID) {
			if err := r.SetID(t.name, t.v); err != nil {
				return err
			}
		}
	}
	if s.custom != "" {
		r.custom = custom
	}
	if rest != nil {
		return rest()
	}
	return nil
}
