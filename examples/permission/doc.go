// Command permission walks through the department scenario: marketing,
// sales, service, finance, IT and management work in one CRM, and each may
// touch only what it should. It shows decisions with their reasons, field
// masks, a list filtered in the store rather than row by row, and an audited
// policy change.
//
//	go run ./examples/permission
package main
