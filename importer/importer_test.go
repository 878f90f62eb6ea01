package importer_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/importer"
)

func TestStandardise(t *testing.T) {
	for _, tc := range []struct {
		field, typed, want string
		note, invalid      bool
	}{
		{"name", "  ＡＢＣ　Ltd ", "ABC Ltd", false, false},
		{"name", "华腾（北京）科技", "华腾(北京)科技", false, false},
		{"phone", "+86 138 0013 8000", "+8613800138000", false, false},
		{"phone", "010-8888 6666 转 12", "+861088886666;ext=12", false, false},
		{"phone", "12345", "12345", true, false},
		{"phone", "+1 (212) 555-0100", "+12125550100", false, false},
		{"email", " Li.Wei@Example.COM ", "li.wei@example.com", false, false},
		{"email", "ｌｉ＠ｘ.ｃｏｍ", "li@x.com", false, false},
		{"kind", "个人", "person", false, false},
		{"kind", "Company", "company", false, false},
		{"kind", "alien", "", false, true},
		{"custom.signed_on", "2024/3/5", "2024-03-05", false, false},
		{"custom.signed_on", "２０２４年３月５日", "2024-03-05", false, false},
		{"custom.signed_on", "2024-02-30", "2024-02-30", true, false},
		{"custom.signed_on", "20240305", "20240305", false, false}, // ambiguous: kept
		{"custom.signed_on", "05/03/2024", "05/03/2024", false, false},
		{"level", "", "", false, false},
	} {
		got, note, err := importer.Standardise(tc.field, tc.typed, "CN")
		if tc.invalid {
			var ve *crm.ValidationError
			require.True(t, errors.As(err, &ve), "%s %q", tc.field, tc.typed)
			require.Equal(t, tc.field, ve.Field)
			continue
		}
		require.NoError(t, err, "%s %q", tc.field, tc.typed)
		require.Equal(t, tc.want, got, "%s %q", tc.field, tc.typed)
		require.Equal(t, tc.note, note != nil, "%s %q: note %v", tc.field, tc.typed, note)
	}
}

func TestCheckField(t *testing.T) {
	for _, f := range append(importer.Fields(), "custom.vip", "custom.signed_on") {
		require.NoError(t, importer.CheckField("map", f), f)
	}
	for _, f := range []string{"colour", "Name", "custom.", "custom.Bad", "custom.typed_phone", "custom.merged_into", "custom.contact", "owner_id"} {
		var ve *crm.ValidationError
		require.ErrorAs(t, importer.CheckField("map", f), &ve, f)
		require.Equal(t, "map", ve.Field)
	}
}

func TestApplyKeepsTypedValuesOnlyWhenStandardisingChangedThem(t *testing.T) {
	c := &crm.Customer{Name: "old", Fields: crm.Fields{"vip": crm.String("yes")}}
	_, err := importer.Apply(c, map[string]string{"phone": "13800138000", "email": "a@b.cn"}, "")
	require.NoError(t, err)
	require.Equal(t, "old", c.Name, "unmapped fields stay")
	require.Equal(t, crm.Fields{"vip": crm.String("yes"), "typed_phone": crm.String("13800138000")}, c.Fields)
	_, err = importer.Apply(c, map[string]string{"phone": "+8613800138000", "custom.vip": ""}, "")
	require.NoError(t, err)
	require.Empty(t, c.Fields, "a value typed as stored drops the typed copy; an empty one clears the field")
	_, err = importer.Apply(c, map[string]string{"name": "a\x00b", "kind": "x"}, "")
	var ve crm.ValidationErrors
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []string{"kind", "name"}, ve.Fields())
}

func TestDigestIgnoresMapOrderButNotValues(t *testing.T) {
	a := importer.Digest(map[string]string{"name": "x", "phone": "1"}, "CN")
	require.Equal(t, a, importer.Digest(map[string]string{"phone": "1", "name": "x"}, "CN"))
	require.NotEqual(t, a, importer.Digest(map[string]string{"name": "x", "phone": "2"}, "CN"))
	require.NotEqual(t, a, importer.Digest(map[string]string{"name": "x1", "phone": ""}, "CN"), "fields are delimited")
	require.NotEqual(t, a, importer.Digest(map[string]string{"name": "x", "phone": "1"}, "US"))
}
