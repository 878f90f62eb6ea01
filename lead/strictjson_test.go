package lead_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/lead"
)

// Every lead loader decodes with crm.DecodeStrict: a key repeated in one
// object is refused with its path, never resolved to the last value.
func TestLoadersRefuseARepeatedKey(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"id":"inbound","id":"outbound"}`)
	for name, load := range map[string]func([]byte) error{
		"ParseModel":     func(b []byte) error { _, err := lead.ParseModel(b); return err },
		"ParseLifecycle": func(b []byte) error { _, err := lead.ParseLifecycle(b); return err },
		"LoadPredictor":  func(b []byte) error { _, err := lead.LoadPredictor(b); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := load(doc)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			require.ErrorContains(t, err, "id: key repeated")
		})
	}
}
