package crm_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

// referenceDiff is Diff written the plain way, decoding each record's
// JSON into maps: the scanner Diff uses must agree with it.
func referenceDiff(t testing.TB, old, new any) []crm.Change {
	flat := func(v any) map[string]json.RawMessage {
		out := map[string]json.RawMessage{}
		if v == nil {
			return out
		}
		data, err := json.Marshal(v)
		require.NoError(t, err)
		var top map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(data, &top))
		unset := func(raw json.RawMessage) bool {
			switch string(raw) {
			case "null", `""`, "0", "false", "[]", "{}", `"0001-01-01T00:00:00Z"`, `"00000000-0000-0000-0000-000000000000"`:
				return true
			}
			return false
		}
		for k, raw := range top {
			switch k {
			case "id", "tenant_id", "version", "created_at", "updated_at":
			case "fields":
				var custom map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(raw, &custom))
				for name, cv := range custom {
					if !unset(cv) {
						out["fields."+name] = cv
					}
				}
			default:
				if !unset(raw) {
					out[k] = raw
				}
			}
		}
		return out
	}
	a, b := flat(old), flat(new)
	var out []crm.Change
	for k, bv := range b {
		if av, ok := a[k]; !ok || !bytes.Equal(av, bv) {
			out = append(out, crm.Change{Field: k, Old: a[k], New: bv})
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok {
			out = append(out, crm.Change{Field: k, Old: av})
		}
	}
	slices.SortFunc(out, func(x, y crm.Change) int { return strings.Compare(x.Field, y.Field) })
	return out
}

// FuzzDiffAgreesWithDecodingIntoMaps changes a customer's text fields and
// one custom field to fuzzed values (quotes, braces, escapes, commas and
// non-ASCII included) and compares Diff with the reference.
func FuzzDiffAgreesWithDecodingIntoMaps(f *testing.F) {
	f.Add("Huateng", "北京市, {海淀区}", "tier", `gold "A" \ }`, int64(250))
	f.Add("", "", "a\"b", "", int64(0))
	f.Add("x,y", "[1,2]", "<&>", "\u2028", int64(-3))
	f.Fuzz(func(t *testing.T, name, address, field, text string, n int64) {
		old := &crm.Customer{Meta: crm.Meta{ID: crm.ID{1}, Version: 1}, Kind: crm.CustomerCompany, Name: "Huateng", Level: "B",
			Fields: crm.Fields{"budget": crm.Number(decimal.NewFromInt(100))}}
		next := old.Clone()
		next.Name, next.Address, next.Version = name, address, 2
		next.UpdatedAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		next.Fields[field] = crm.String(text)
		next.Fields["budget"] = crm.Number(decimal.NewFromInt(n))
		for _, pair := range [][2]*crm.Customer{{old, next}, {next, old}, {nil, next}, {next, nil}} {
			var a, b any
			if pair[0] != nil {
				a = pair[0]
			}
			if pair[1] != nil {
				b = pair[1]
			}
			got, err := crm.Diff(a, b)
			require.NoError(t, err)
			require.Equal(t, referenceDiff(t, a, b), got)
		}
	})
}

func TestDiffOfEveryRecordTypeAgreesWithTheReference(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	money := func(minor int64) crm.Money {
		m, err := crm.MoneyFromMinor(minor, "CNY")
		require.NoError(t, err)
		return m
	}
	records := [][2]any{
		{&crm.Lead{Name: "王芳", Company: "华腾", Status: crm.LeadNew}, &crm.Lead{Name: "王芳", Company: "华腾科技", Status: crm.LeadMQL, CompanySize: 40}},
		{&crm.Contact{Name: "李伟", Phones: []string{"138"}}, &crm.Contact{Name: "李伟", Phones: []string{"138", "139"}, Primary: true}},
		{&crm.Opportunity{Name: "ERP", Amount: money(10000)}, &crm.Opportunity{Name: "ERP", Amount: money(12000), ExpectedClose: &at}},
		{&crm.User{Name: "Li", Roles: []string{"rep"}}, &crm.User{Name: "Li", Roles: []string{"rep", "manager"}, Active: true}},
	}
	for _, r := range records {
		got, err := crm.Diff(r[0], r[1])
		require.NoError(t, err)
		require.NotEmpty(t, got)
		require.Equal(t, referenceDiff(t, r[0], r[1]), got, "%T", r[0])
	}
}

func TestDiffRefusesWhatIsNotARecord(t *testing.T) {
	t.Parallel()
	for _, v := range []any{42, "text", []int{1}} {
		_, err := crm.Diff(nil, v)
		require.Error(t, err, "%v", v)
	}
}
