package importer_test

import (
	"fmt"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
)

// Apply stores values standardised and keeps what was typed beside them.
func ExampleApply() {
	c := &crm.Customer{}
	notes, err := importer.Apply(c, map[string]string{
		"name":             "ＡＣＭＥ 华腾科技",
		"phone":            "１３８-００１３-８０００",
		"email":            "Sales@HuaTeng.CN",
		"custom.signed_on": "2024年3月5日",
	}, "CN")
	fmt.Println(err, len(notes))
	str := func(name string) string { s, _ := c.Fields[name].Str(); return s }
	fmt.Println(c.Name, c.Phone, c.Email, str("signed_on"))
	fmt.Println(str(importer.TypedField("phone")), str("typed_signed_on"))
	// Output:
	// <nil> 0
	// ACME 华腾科技 +8613800138000 sales@huateng.cn 2024-03-05
	// １３８-００１３-８０００ 2024年3月5日
}
