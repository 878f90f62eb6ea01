package crm_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/stretchr/testify/require"
)

// entity is what the JSON fuzzers need from an entity pointer.
type entity[T any] interface {
	*T
	Normalise()
	Validate() error
}

// fuzzEntityJSON checks that decoding arbitrary bytes never panics, that a
// decoded entity failing validation fails with ErrInvalidArgument, and that
// a valid one survives an encode-decode round trip unchanged: still valid,
// and encoding to the same bytes.
func fuzzEntityJSON[T any, P entity[T]](f *testing.F, seeds ...P) {
	for _, s := range seeds {
		// A valid seed makes the corpus reach the round-trip checks.
		require.NoError(f, s.Validate(), "seed")
		b, err := json.Marshal(s)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"not-an-id","name":"\u0000","fields":{"x":{"number":"1e400"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		if json.Unmarshal(b, &v) != nil {
			return
		}
		P(&v).Normalise()
		if err := P(&v).Validate(); err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		out, err := json.Marshal(&v)
		require.NoError(t, err)
		var back T
		require.NoError(t, json.Unmarshal(out, &back))
		P(&back).Normalise()
		require.NoError(t, P(&back).Validate(), "round trip of %s", out)
		again, err := json.Marshal(&back)
		require.NoError(t, err)
		require.JSONEq(t, string(out), string(again))
	})
}

func FuzzLeadJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.Lead](f, crmtest.Lead(ids))
}

func FuzzContactJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.Contact](f, crmtest.Contact(ids, ids.NewID()))
}

func FuzzActivityJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	subject := crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}
	fuzzEntityJSON[crm.Activity](f, crmtest.Activity(ids, subject, ids.NewID()))
}

func FuzzTicketJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.Ticket](f, crmtest.Ticket(ids))
}

func FuzzUserJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.User](f, crmtest.User(ids))
}

func FuzzDepartmentJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.Department](f, crmtest.Department(ids, "Sales", ids.NewID()))
}

func FuzzTeamJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	fuzzEntityJSON[crm.Team](f, crmtest.Team(ids, "East", []crm.ID{ids.NewID()}))
}

func FuzzTaskJSON(f *testing.F) {
	ids := crmtest.NewIDs()
	subject := crm.Ref{Type: crm.TypeCustomer, ID: ids.NewID()}
	start := crmtest.Epoch().AddDate(0, 0, 1)
	fuzzEntityJSON[crm.Task](f,
		crmtest.Task(ids, subject, ids.NewID()),
		crmtest.Task(ids, subject, ids.NewID(), func(t *crm.Task) {
			t.Kind, t.DueAt, t.StartAt, t.EndAt = crm.TaskAppointment, start, &start, ptrTo(start.Add(time.Hour))
			t.Recurrence, t.SeriesStart, t.Occurrence = &crm.Recurrence{Every: 1, Unit: crm.EveryMonth, Count: 12}, &start, 1
		}))
}

func ptrTo[T any](v T) *T { return &v }
