package crm

import (
	"slices"
	"strings"
)

// Contact is a person at a customer. Safe for concurrent reads.
type Contact struct {
	Meta
	CustomerID ID     `json:"customer_id"`
	Name       string `json:"name"`
	Title      string `json:"title,omitempty"`
	// Phones and Emails keep every number and address the contact has, the
	// first being the preferred one.
	Phones  []string `json:"phones,omitempty"`
	Emails  []string `json:"emails,omitempty"`
	Primary bool     `json:"primary,omitempty"`
	OwnerID ID       `json:"owner_id,omitzero"`
	Fields  Fields   `json:"fields,omitempty"`
}

// RecordType returns [TypeContact].
func (*Contact) RecordType() RecordType { return TypeContact }

// Clone returns a deep copy.
func (c *Contact) Clone() *Contact {
	out := *c
	out.Phones = slices.Clone(c.Phones)
	out.Emails = slices.Clone(c.Emails)
	out.Fields = c.Fields.Clone()
	return &out
}

// Normalise has nothing to adjust for a contact.
func (c *Contact) Normalise() {}

// Validate reports every invalid field.
func (c *Contact) Validate() error {
	var v Problems
	c.Meta.validate(&v)
	if c.CustomerID == NilID {
		v.Add("customer_id", "is required")
	}
	if strings.TrimSpace(c.Name) == "" {
		v.Add("name", "is required")
	} else {
		checkText(&v, "name", c.Name, maxName)
	}
	optional(&v, "title", c.Title, maxName)
	stringList(&v, "phones", c.Phones, maxShort)
	stringList(&v, "emails", c.Emails, 254)
	for i, e := range c.Emails {
		validEmail(&v, "emails["+itoa(i)+"]", e)
	}
	v.Prefix = "fields."
	v.Merge(c.Fields.Validate())
	return v.Err()
}
