package crm_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/crmkit/crmkit/crm"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"
)

var testID = crm.UUIDv7{}.NewID()

func fieldsOf(t *testing.T, err error) []string {
	t.Helper()
	var es crm.ValidationErrors
	require.ErrorAs(t, err, &es)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	return es.Fields()
}

func TestEntityValidationNamesTheField(t *testing.T) {
	t.Parallel()
	meta := crm.Meta{ID: testID}
	tests := []struct {
		name   string
		record crm.Entity
		fields []string
	}{
		{"LeadNeedsNameOrCompany", &crm.Lead{Meta: meta}, []string{"name"}},
		{"LeadRejectsBadEmail", &crm.Lead{Meta: meta, Name: "x", Email: "no-at-sign"}, []string{"email"}},
		{"LeadRejectsUnknownStatus", &crm.Lead{Meta: meta, Name: "x", Status: "hot"}, []string{"status"}},
		{"LeadNeedsDisqualifyReason", &crm.Lead{Meta: meta, Name: "x", Status: crm.LeadDisqualified}, []string{"disqualify_reason"}},
		{"LeadNeedsID", &crm.Lead{Name: "x"}, []string{"id"}},
		{"LeadRejectsNegativeSize", &crm.Lead{Meta: meta, Name: "x", CompanySize: -1}, []string{"company_size"}},
		{"LeadRejectsRepeatedTags", &crm.Lead{Meta: meta, Name: "x", Tags: []string{"a", "a"}}, []string{"tags[1]"}},
		{"CustomerNeedsName", &crm.Customer{Meta: meta}, []string{"name"}},
		{"CustomerCannotBeOwnedAndPooled", &crm.Customer{Meta: meta, Name: "x", OwnerID: testID, PoolID: testID}, []string{"pool_id"}},
		{"CustomerRejectsNULInName", &crm.Customer{Meta: meta, Name: "a\x00b"}, []string{"name"}},
		{"CustomerRejectsInvalidUTF8", &crm.Customer{Meta: meta, Name: "a\xffb"}, []string{"name"}},
		{"CustomerRejectsOverlongName", &crm.Customer{Meta: meta, Name: strings.Repeat("华", 201)}, []string{"name"}},
		{"CustomerRejectsBadCustomFieldName", &crm.Customer{Meta: meta, Name: "x", Fields: crm.Fields{"Bad Name": crm.String("v")}}, []string{"fields.Bad Name"}},
		{"CustomerRejectsEmptyCustomField", &crm.Customer{Meta: meta, Name: "x", Fields: crm.Fields{"vip": {}}}, []string{"fields.vip"}},
		{"ContactNeedsCustomerAndName", &crm.Contact{Meta: meta}, []string{"customer_id", "name"}},
		{"ContactRejectsBadEmailInList", &crm.Contact{Meta: meta, CustomerID: testID, Name: "x", Emails: []string{"a@b.cn", "bad"}}, []string{"emails[1]"}},
		{"OpportunityRejectsProbabilityOutOfRange", &crm.Opportunity{Meta: meta, CustomerID: testID, Name: "x", Probability: 101}, []string{"probability"}},
		{"OpportunityRejectsNegativeAmount", &crm.Opportunity{Meta: meta, CustomerID: testID, Name: "x", Amount: money("-1 CNY")}, []string{"amount"}},
		{"OpportunityRejectsUnknownStage", &crm.Opportunity{Meta: meta, CustomerID: testID, Name: "x", Stage: "maybe"}, []string{"stage"}},
		{"ActivityNeedsEverything", &crm.Activity{Meta: meta}, []string{"kind", "subject.type", "subject.id", "actor_id", "occurred_at"}},
		{"TicketNeedsSubject", &crm.Ticket{Meta: meta, Priority: "p0"}, []string{"subject", "priority"}},
		{"TicketRejectsSatisfactionOutOfRange", &crm.Ticket{Meta: meta, Subject: "x", Satisfaction: 6}, []string{"satisfaction"}},
		{"TicketRejectsNegativeSatisfaction", &crm.Ticket{Meta: meta, Subject: "x", Satisfaction: -1}, []string{"satisfaction"}},
		{"UserNeedsNameAndEmail", &crm.User{Meta: meta, Capacity: -1}, []string{"name", "email", "capacity"}},
		{"DepartmentCannotParentItself", &crm.Department{Meta: meta, Name: "x", ParentID: testID}, []string{"parent_id"}},
		{"TeamRejectsRepeatedMembers", &crm.Team{Meta: meta, Name: "x", MemberIDs: []crm.ID{testID, testID}}, []string{"member_ids[1]"}},
		{"MetaRejectsLongTenant", &crm.Team{Meta: crm.Meta{ID: testID, TenantID: strings.Repeat("t", 65)}, Name: "x"}, []string{"tenant_id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.record.Normalise()
			require.Equal(t, tt.fields, fieldsOf(t, tt.record.Validate()))
		})
	}
}

func money(s string) crm.Money {
	m, err := crm.ParseMoney(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestValidationErrorsMatchAsAndIs(t *testing.T) {
	t.Parallel()
	err := (&crm.Customer{}).Validate()
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "id", ve.Field)
	require.True(t, errors.Is(err, crm.ErrInvalidArgument))
	require.Contains(t, err.Error(), "invalid name: is required")
	le := &crm.LimitError{Limit: "owned_customers", Max: 10, Current: 10}
	require.ErrorIs(t, le, crm.ErrLimitExceeded)
	require.Equal(t, "limit owned_customers exceeded: 10 of 10", le.Error())
}

func TestCustomFieldsJSONKeepTheirKind(t *testing.T) {
	t.Parallel()
	when := time.Date(2026, 5, 1, 8, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	f := crm.Fields{
		"tier":     crm.String("gold"),
		"revenue":  crm.Number(decimal.RequireFromString("1234567.8900")),
		"vip":      crm.Bool(true),
		"signed":   crm.Time(when),
		"channels": crm.Strings("wechat", "phone"),
		"empty":    crm.Strings(),
	}
	require.NoError(t, f.Validate())
	b, err := json.Marshal(f)
	require.NoError(t, err)
	var back crm.Fields
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, f.Equal(back), "%s", b)
	tm, ok := back["signed"].TimeValue()
	require.True(t, ok)
	require.Equal(t, time.UTC, tm.Location())
	require.Equal(t, 123456000, tm.Nanosecond(), "microsecond precision")
	n, _ := back["revenue"].Num()
	require.Equal(t, "1234567.89", n.String())
	_, isStr := back["vip"].Str()
	require.False(t, isStr)

	require.Equal(t, 2, f["channels"].Len())
	require.Equal(t, "phone", f["channels"].At(1))
	require.Zero(t, f["tier"].Len())
	clone := f.Clone()
	list, _ := clone["channels"].List()
	list[0] = "changed"
	orig, _ := f["channels"].List()
	require.Equal(t, "wechat", orig[0])

	for _, bad := range []string{`{"x":{"string":"a","bool":true}}`, `{"x":{"colour":"red"}}`, `{"x":{"number":"abc"}}`, `{"x":"plain"}`} {
		require.ErrorIs(t, json.Unmarshal([]byte(bad), &back), crm.ErrInvalidArgument, bad)
	}
}

func TestCustomerJSONRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := crm.Customer{
		Meta: crm.Meta{ID: testID, TenantID: "acme", Version: 3, CreatedAt: now, UpdatedAt: now},
		Kind: crm.CustomerCompany, Name: "华腾科技(北京)有限公司", Level: "A", Status: crm.CustomerDealt,
		OwnerID: testID, LastFollowUpAt: &now, Fields: crm.Fields{"vip": crm.Bool(true)},
	}
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.NotContains(t, string(b), "pool_id", "nil IDs are omitted")
	var back crm.Customer
	require.NoError(t, json.Unmarshal(b, &back))
	require.True(t, back.Fields.Equal(c.Fields))
	back.Fields, c.Fields = nil, nil
	require.Equal(t, c, back)
}

func FuzzCustomerJSON(f *testing.F) {
	f.Add([]byte(`{"id":"0190a0b0-0000-7000-8000-000000000001","name":"Acme","kind":"company","status":"potential","fields":{"a":{"number":"1.5"}}}`))
	f.Add([]byte(`{"name":"\u0000","owner_id":"x"}`))
	f.Add([]byte(`{"last_deal_at":"2026-01-01T00:00:00+08:00","fields":{"t":{"strings":null}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c crm.Customer
		if err := json.Unmarshal(b, &c); err != nil {
			return
		}
		c.Normalise()
		err := c.Validate()
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		out, err := json.Marshal(c)
		require.NoError(t, err)
		var back crm.Customer
		require.NoError(t, json.Unmarshal(out, &back))
		back.Normalise()
		require.NoError(t, back.Validate())
		require.True(t, back.Fields.Equal(c.Fields))
		require.Equal(t, c.Name, back.Name)
	})
}

func FuzzOpportunityJSON(f *testing.F) {
	f.Add([]byte(`{"id":"0190a0b0-0000-7000-8000-000000000001","customer_id":"0190a0b0-0000-7000-8000-000000000002","name":"Deal","amount":{"amount":"100.50","currency":"CNY"},"probability":50}`))
	f.Add([]byte(`{"amount":{"amount":"-1","currency":"CNY"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var o crm.Opportunity
		if err := json.Unmarshal(b, &o); err != nil {
			return
		}
		o.Normalise()
		if err := o.Validate(); err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		out, err := json.Marshal(o)
		require.NoError(t, err)
		var back crm.Opportunity
		require.NoError(t, json.Unmarshal(out, &back))
		require.True(t, back.Amount.Equal(o.Amount))
		require.Equal(t, o.Amount.String(), back.Amount.String())
	})
}

func TestUUIDv7IsTimeOrderedVersion7(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := crm.UUIDv7{Clock: fixedClock(t0)}.NewID()
	b := crm.UUIDv7{Clock: fixedClock(t0.Add(time.Millisecond))}.NewID()
	require.EqualValues(t, 7, a.Version())
	require.Equal(t, "RFC4122", a.Variant().String())
	require.Less(t, a.String(), b.String())
	sec, nsec := a.Time().UnixTime()
	require.Equal(t, t0.Unix(), sec)
	require.Zero(t, nsec)
	_, err := crm.ParseID("owner_id", "nope")
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "owner_id", ve.Field)
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

func TestFieldValueAtDoesNotAllocate(t *testing.T) {
	v := crm.Strings("wechat", "phone")
	require.Zero(t, testing.AllocsPerRun(10, func() { _ = v.At(v.Len() - 1) }))
}

func TestTicketNormaliseStartsANewTicketAsNewAndKeepsItsTimesAtStoragePrecision(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CST", 8*3600))
	due := at.Add(time.Hour)
	tk := &crm.Ticket{Meta: crm.Meta{ID: testID}, Subject: "x", ClosedAt: &at, FirstResponseAt: &at, Satisfaction: 5, SLADueAt: &due}
	tk.Normalise()
	require.Equal(t, crm.TicketNew, tk.Status)
	require.Equal(t, crm.PriorityNormal, tk.Priority)
	require.Equal(t, crm.StorageTime(at), *tk.ClosedAt)
	require.Equal(t, crm.StorageTime(at), *tk.FirstResponseAt)
	require.Equal(t, crm.StorageTime(due), *tk.SLADueAt)
	require.Equal(t, time.UTC, tk.ClosedAt.Location())
	require.NoError(t, tk.Validate())

	c := tk.Clone()
	*c.ClosedAt, *c.FirstResponseAt, *c.SLADueAt = time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, crm.StorageTime(at), *tk.ClosedAt, "a clone does not alias its times")
	require.Equal(t, crm.StorageTime(at), *tk.FirstResponseAt)
	require.Equal(t, crm.StorageTime(due), *tk.SLADueAt)
}
