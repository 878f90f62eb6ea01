package cond_test

import (
	"fmt"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
)

// A condition is checked against the schema of the record it tests when it
// loads, then evaluated on records without allocating, and explained.
func Example() {
	schema := cond.CustomerSchema()
	pred, err := cond.Parse(schema, []byte(`{"all": [
		{"field": "region", "in": ["cn-east", "cn-north"]},
		{"any": [{"field": "level", "equals": "A"}, {"field": "fields.budget", "range": {"gte": 100000}}]},
		{"not": {"field": "name", "contains": "test"}}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := schema.NewRecord()
	customer := &crm.Customer{Name: "Huateng Machinery", Region: "CN-East", Level: "B",
		Fields: crm.Fields{"budget": crm.Number(mustDecimal("250000"))}}
	if err := cond.FillCustomer(rec, customer); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(pred.Match(rec))
	fmt.Println(pred.Explain(rec))

	// A misspelt field or a literal of the wrong type is refused at load,
	// with its path.
	_, err = cond.Parse(schema, []byte(`{"any": [{"field": "regoin", "equals": "x"}, {"field": "owner_id", "in": [42]}]}`))
	fmt.Println(err)
	// Output:
	// true
	// true    all
	//   true    region in ["cn-east", "cn-north"]  (region = "CN-East")
	//   true    any
	//     false   level equals "A"  (level = "B")
	//     true    fields.budget range >= 100000  (fields.budget = 250000)
	//   true    not
	//     false   name contains "test"  (name = "Huateng Machinery")
	// invalid any[0].field: unknown field "regoin"; want one of name, kind, level, industry, region, source, status, phone, email, address, website, owner_id, …, fields.<name>; invalid any[1].in[0]: want an ID string
}
