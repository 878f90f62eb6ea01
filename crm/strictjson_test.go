package crm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

type strictBase struct {
	ID   string `json:"id"`
	Note string `json:"note,omitempty"`
}

type strictRule struct {
	strictBase
	Effect string     `json:"effect,omitempty"`
	Points float64    `json:"points"`
	Tags   []string   `json:"tags,omitempty"`
	Money  *crm.Money `json:"money,omitempty"`
	Note   int        `json:"note,omitempty"` // shadows strictBase.Note
}

type strictDoc struct {
	Name  string                `json:"name"`
	Rules []strictRule          `json:"rules"`
	Extra map[string]strictRule `json:"extra,omitempty"`
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		doc    string
		fields []string // empty: decodes
	}{
		{"AValidDocumentDecodes", `{"name":"a","rules":[{"id":"r1","effect":"deny","points":2,"note":3,"money":{"amount":"1.00","currency":"CNY"}}],"extra":{"x":{"id":"r2","points":1}}}`, nil},
		{"ARepeatedKeyIsRefusedWithItsPath", `{"name":"a","rules":[{"id":"r1","effect":"deny","effect":"allow","points":1}]}`, []string{"rules[0].effect"}},
		{"ARepeatedTopLevelKeyIsRefused", `{"name":"a","name":"b","rules":[]}`, []string{"name"}},
		{"ARepeatedKeyInAMapIsRefused", `{"name":"a","rules":[],"extra":{"x":{"id":"1","points":1},"x":{"id":"2","points":1}}}`, []string{"extra.x"}},
		{"EveryUnknownFieldIsNamed", `{"name":"a","rules":[{"id":"r1","pionts":1},{"id":"r2","colour":"red"}],"nmae":"x"}`, []string{"nmae", "rules[0].pionts", "rules[1].colour"}},
		{"APromotedFieldIsKnown", `{"name":"a","rules":[{"id":"r1","points":1}]}`, nil},
		{"AWrongTypeNamesTheField", `{"name":"a","rules":[{"id":"r1","points":"many"}]}`, []string{"rules.points"}},
		{"TrailingDataIsRefused", `{"name":"a","rules":[]} {"trailing":true}`, []string{""}},
		{"TruncatedJSONIsRefused", `{"name":"a","rules":[`, []string{""}},
		{"DeepNestingIsRefusedWithItsPath", `{"name":"a","extra":{"x":{"tags":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}}}`, []string{"extra.x.tags" + strings.Repeat("[0]", crm.MaxJSONDepth-3)}},
		{"ATypesOwnCheckNamesItsField", `{"name":"a","rules":[{"id":"r1","points":1,"money":{"amount":"1.00"}}]}`, []string{"currency"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var d strictDoc
			err := crm.DecodeStrict([]byte(tc.doc), &d)
			if len(tc.fields) == 0 {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var all crm.ValidationErrors
			require.True(t, errors.As(err, &all), "got %T", err)
			require.Equal(t, tc.fields, all.Fields())
		})
	}
}

func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{`{"name":"a","rules":[{"id":"r","points":1}]}`, `{"a":1,"a":2}`, `[`, `{"rules":[{"money":{"amount":"1","currency":"CNY"}}]}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d strictDoc
		err := crm.DecodeStrict(data, &d)
		if err != nil && !errors.Is(err, crm.ErrInvalidArgument) {
			t.Fatalf("error %v does not match ErrInvalidArgument", err)
		}
	})
}
