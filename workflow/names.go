package workflow

import "github.com/crmkit/crmkit/cond"

// MaxDocumentBytes is the largest rule document (rule set, approval
// definition, hand-off machine, SLA policies) the loaders read, refused
// before anything is decoded.
const MaxDocumentBytes = cond.MaxDocumentBytes

// decodeStrict is [cond.DecodeStrict], the one strict decoder every
// loader shares: documents over [MaxDocumentBytes] are refused unread;
// unknown fields, repeated keys, wrong types and trailing data are refused
// with their JSON paths.
func decodeStrict(data []byte, v any) error { return cond.DecodeStrict(data, v) }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
