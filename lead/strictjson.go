package lead

import (
	"fmt"

	"github.com/crmkit/crmkit/crm"
)

// decodeStrict decodes JSON data into v with [crm.DecodeStrict], the one
// strict decoder every loader shares: unknown fields, repeated keys, wrong
// types and trailing data are refused with their JSON paths. Scoring models,
// whose rules hold conditions, decode with [cond.DecodeStrict], which also
// says what to write instead of a retired condition form.
func decodeStrict(data []byte, v any) error { return crm.DecodeStrict(data, v) }

// idx returns the JSON path of element i of the list at path.
func idx(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }
