package crm_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/crmkit/crmkit/crm"
	"github.com/stretchr/testify/require"
)

// validator is what every filter offers.
type validator interface{ Validate() error }

// requireFilterInvalid checks that f is refused with a *crm.ValidationError
// that names field.
func requireFilterInvalid(t *testing.T, f validator, field string) {
	t.Helper()
	err := f.Validate()
	require.Error(t, err)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	var ve *crm.ValidationError
	require.True(t, errors.As(err, &ve))
	require.Contains(t, fieldsOf(t, err), field, "error %q", err)
}

func TestFilterValidateRefusesTextNoStoreCouldHold(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("区", 65)
	bad := map[string]string{
		"NUL":           "east\x00",
		"InvalidUTF8":   "east\xff",
		"TooLong":       long,
		"LoneSurrogate": "\xed\xa0\x80",
	}
	for name, s := range bad {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cases := []struct {
				f     validator
				field string
			}{
				{&crm.CustomerFilter{Regions: []string{"north", "south", s}}, "regions[2]"},
				{&crm.CustomerFilter{Levels: []string{s}}, "levels[0]"},
				{&crm.CustomerFilter{Industries: []string{"retail", s}}, "industries[1]"},
				{&crm.CustomerFilter{Statuses: []crm.CustomerStatus{crm.CustomerStatus(s)}}, "statuses[0]"},
				{&crm.LeadFilter{Sources: []string{s}}, "sources[0]"},
				{&crm.LeadFilter{Statuses: []crm.LeadStatus{crm.LeadNew, crm.LeadStatus(s)}}, "statuses[1]"},
				{&crm.OpportunityFilter{Stages: []crm.OpportunityStage{crm.OpportunityStage(s)}}, "stages[0]"},
				{&crm.ActivityFilter{Kinds: []crm.ActivityKind{crm.ActivityKind(s)}}, "kinds[0]"},
				{&crm.ActivityFilter{Subject: &crm.Ref{Type: crm.RecordType(s), ID: testID}}, "subject.type"},
				{&crm.TicketFilter{Statuses: []crm.TicketStatus{crm.TicketStatus(s)}}, "statuses[0]"},
				{&crm.UserFilter{Role: s}, "role"},
			}
			for _, c := range cases {
				requireFilterInvalid(t, c.f, c.field)
			}
		})
	}
}

func TestFilterValidateAcceptsTextAtTheLimit(t *testing.T) {
	t.Parallel()
	atLimit := strings.Repeat("区", 64)
	f := crm.CustomerFilter{Regions: []string{atLimit, ""}, Levels: []string{"A"}, Industries: []string{"零售"}}
	require.NoError(t, f.Validate())
	require.NoError(t, (&crm.LeadFilter{Sources: []string{atLimit}}).Validate())
	require.NoError(t, (&crm.ActivityFilter{Subject: &crm.Ref{Type: crm.TypeLead, ID: testID}}).Validate())
}

func TestFilterValidateRefusesTooManyValuesOnce(t *testing.T) {
	t.Parallel()
	f := crm.CustomerFilter{Regions: make([]string, 1001)}
	err := f.Validate()
	require.Equal(t, []string{"regions"}, fieldsOf(t, err))
}
