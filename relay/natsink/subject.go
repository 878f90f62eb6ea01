package natsink

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"

	"github.com/crmkit/crmkit/crm"
)

// DefaultPrefix is the first token of the subjects when [Config.Prefix]
// is empty.
const DefaultPrefix = "crm"

// maxSubject bounds a subject's length, well under the server's control
// line limit (4 KiB by default), which closes the connection when
// exceeded. Tenant IDs are at most 64 bytes and event types 100.
const maxSubject = 1024

// tenantEncoding is base32 (RFC 4648) in lower case, without padding.
var tenantEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// SubjectToken returns the subject token that stands for tenant in the
// subjects the sink publishes to (<prefix>.<token>.<event type>):
//
//   - a tenant of ASCII letters, digits, '-' and '_' is its own token
//     ("acme", "Acme-EU_2"), except "_";
//   - the empty tenant (the default one) is "_";
//   - any other tenant (with a dot, a space, a wildcard, non-ASCII bytes,
//     or "_" itself) is "~" and the base32 of its bytes, in lower case
//     without padding ("a.b" is "~mexge").
//
// Every token is one valid subject token of [A-Za-z0-9_~-] and distinct
// tenants get distinct tokens; [TenantFromToken] reverses it. A consumer
// of one tenant filters on "<prefix>.<token>.>".
func SubjectToken(tenant string) string {
	switch {
	case tenant == "":
		return "_"
	case tenant != "_" && plainToken(tenant):
		return tenant
	}
	return "~" + tenantEncoding.EncodeToString([]byte(tenant))
}

// TenantFromToken returns the tenant whose [SubjectToken] is token, and an
// error for a string that no tenant maps to.
func TenantFromToken(token string) (string, error) {
	switch {
	case token == "_":
		return "", nil
	case token != "" && plainToken(token):
		return token, nil
	case strings.HasPrefix(token, "~") && len(token) > 1:
		b, err := tenantEncoding.DecodeString(token[1:])
		// Decoding tolerates non-zero trailing bits; only the encoding
		// SubjectToken produces counts.
		if err == nil && SubjectToken(string(b)) == token {
			return string(b), nil
		}
	}
	return "", fmt.Errorf("natsink: %q is not a tenant's subject token", truncate(token, 64))
}

// plainToken reports whether s is made of ASCII letters, digits, '-' and
// '_' only.
func plainToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// checkPrefix accepts dot-separated tokens of ASCII letters, digits, '-'
// and '_'.
func checkPrefix(prefix string) error {
	if len(prefix) > 200 {
		return errors.New("must be at most 200 bytes")
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if tok == "" || !plainToken(tok) {
			return fmt.Errorf("must be dot-separated tokens of ASCII letters, digits, '-' and '_', got %q", truncate(prefix, 64))
		}
	}
	return nil
}

// eventSubject returns <prefix>.<SubjectToken(tenant)>.<type>, or an error
// for an event type that is not dot-separated tokens.
func eventSubject(prefix string, e *crm.Event) (string, error) {
	typ := string(e.Type)
	for tok := range strings.SplitSeq(typ, ".") {
		if tok == "" || !plainToken(tok) {
			return "", fmt.Errorf("event type %q is not dot-separated subject tokens", truncate(typ, 64))
		}
	}
	subj := prefix + "." + SubjectToken(e.TenantID) + "." + typ
	if len(subj) > maxSubject {
		return "", fmt.Errorf("subject of %d bytes, more than %d", len(subj), maxSubject)
	}
	return subj, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
