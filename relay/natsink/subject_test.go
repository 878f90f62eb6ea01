package natsink_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/relay/natsink"
)

func TestSubjectToken(t *testing.T) {
	t.Parallel()
	for tenant, want := range map[string]string{
		"":            "_",
		"acme":        "acme",
		"Acme-EU_2":   "Acme-EU_2",
		"_":           "~l4",
		"__":          "__",
		"a.b":         "~mexge",
		"*":           "~fi",
		">":           "~hy",
		"a b":         "~meqge",
		"~x":          "~pz4a",
		"münchen":     "~nxb3y3tdnbsw4",
		"tab\there":   "~orqweclimvzgk",
		"crm.acme.>":  "~mnzg2ltbmnwwklr6",
		"ascii-only1": "ascii-only1",
	} {
		got := natsink.SubjectToken(tenant)
		require.Equal(t, want, got, "tenant %q", tenant)
		back, err := natsink.TenantFromToken(got)
		require.NoError(t, err)
		require.Equal(t, tenant, back)
	}
}

func TestTenantFromTokenRefusesStrangers(t *testing.T) {
	t.Parallel()
	for _, tok := range []string{"", "~", "a.b", "~MEXGE", "~mexge=", "~mexgf" /* non-zero trailing bits */, "~1", "~mfrggzdf" /* "abcde", plain */, "~l5", "*", "~l4.x"} {
		_, err := natsink.TenantFromToken(tok)
		require.Error(t, err, "token %q", tok)
	}
}

// validToken reports whether tok is one NATS subject token that needs no
// quoting anywhere: non-empty printable ASCII without '.', '*', '>' or
// white space.
func validToken(tok string) bool {
	if tok == "" {
		return false
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
			return false
		}
	}
	return true
}

func FuzzSubjectToken(f *testing.F) {
	for _, s := range []string{"", "_", "acme", "a.b", "*", ">", " ", "~", "~l4", "münchen", "\x00", "\xff\xfe", strings.Repeat("x", 64)} {
		f.Add(s, "acme")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ta, tb := natsink.SubjectToken(a), natsink.SubjectToken(b)
		for _, c := range []struct{ tenant, token string }{{a, ta}, {b, tb}} {
			if !validToken(c.token) {
				t.Fatalf("SubjectToken(%q) = %q, not one subject token", c.tenant, c.token)
			}
			if !utf8.ValidString(c.token) || strings.ContainsAny(c.token, "\r\n") {
				t.Fatalf("SubjectToken(%q) = %q, not a header value", c.tenant, c.token)
			}
			back, err := natsink.TenantFromToken(c.token)
			if err != nil || back != c.tenant {
				t.Fatalf("TenantFromToken(SubjectToken(%q)) = %q, %v", c.tenant, back, err)
			}
		}
		if (a == b) != (ta == tb) {
			t.Fatalf("tenants %q and %q have tokens %q and %q", a, b, ta, tb)
		}
		// A token read back from a subject is either refused or maps to
		// the tenant whose token it is.
		if tenant, err := natsink.TenantFromToken(a); err == nil && natsink.SubjectToken(tenant) != a {
			t.Fatalf("TenantFromToken(%q) = %q, whose token is %q", a, tenant, natsink.SubjectToken(tenant))
		}
	})
}
