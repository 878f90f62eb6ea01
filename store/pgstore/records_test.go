package pgstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
)

// at is a time with nanoseconds in a non-UTC zone: every write must store it
// as UTC microseconds.
var at = time.Date(2026, 2, 3, 11, 22, 33, 123456789, time.FixedZone("CST", 8*3600))

func ptr[T any](v T) *T { return &v }

func fullFields() crm.Fields {
	return crm.Fields{
		"vip":      crm.Bool(true),
		"budget":   crm.Number(decimal.RequireFromString("12.50")),
		"note":     crm.String("客户很重要"),
		"renew_at": crm.Time(at),
		"labels":   crm.Strings("a", "b"),
	}
}

func TestRecordsRoundTripEveryColumn(t *testing.T) {
	t.Parallel()
	clock := crmtest.NewClock(at)
	s := newStore(t, clock)
	ctx := crm.WithTenant(context.Background(), "acme")
	ids := crmtest.NewIDs()
	ref := func() crm.ID { return ids.NewID() }
	amount, err := crm.NewMoney(decimal.RequireFromString("1234.50"), "CNY")
	require.NoError(t, err)

	t.Run("Lead", func(t *testing.T) {
		l := &crm.Lead{Meta: crm.Meta{ID: ref()}, Name: "王芳", Company: "华腾", Title: "CTO", Email: "w@example.com",
			Phone: "+8613800000000", Industry: "mfg", Region: "cn-east", Source: "web", CompanySize: 120,
			Status: crm.LeadConverted, OwnerID: ref(), DepartmentID: ref(), CreatedBy: ref(),
			ConvertedCustomerID: ref(), ConvertedContactID: ref(), ConvertedOpportunityID: ref(), ConvertedAt: ptr(at),
			Tags: []string{"hot", "expo"}, Fields: fullFields()}
		require.NoError(t, s.Leads().Create(ctx, l))
		got, err := s.Leads().Get(ctx, l.ID)
		require.NoError(t, err)
		require.Equal(t, l, got)
		require.Equal(t, time.UTC, got.ConvertedAt.Location())
		require.Equal(t, crm.StorageTime(at), got.CreatedAt)
	})
	t.Run("Customer", func(t *testing.T) {
		c := &crm.Customer{Meta: crm.Meta{ID: ref()}, Kind: crm.CustomerPerson, Name: "李娜", Level: "A", Industry: "retail",
			Region: "cn-north", Source: "referral", Status: crm.CustomerDealt, Phone: "010", Email: "l@example.com",
			Address: "北京", Website: "https://example.com", OwnerID: ref(), DepartmentID: ref(), CreatedBy: ref(),
			LastFollowUpAt: ptr(at), LastDealAt: ptr(at.Add(time.Hour)), Fields: fullFields()}
		require.NoError(t, s.Customers().Create(ctx, c))
		got, err := s.Customers().Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c, got)

		pooled := crmtest.Customer(ids, func(c *crm.Customer) { c.PoolID = ref() })
		require.NoError(t, s.Customers().Create(ctx, pooled))
		got, err = s.Customers().Get(ctx, pooled.ID)
		require.NoError(t, err)
		require.Equal(t, pooled, got)
	})
	t.Run("Contact", func(t *testing.T) {
		c := &crm.Contact{Meta: crm.Meta{ID: ref()}, CustomerID: ref(), Name: "张伟", Title: "采购",
			Phones: []string{"1", "2"}, Emails: []string{"z@example.com"}, Primary: true, OwnerID: ref(), Fields: fullFields()}
		require.NoError(t, s.Contacts().Create(ctx, c))
		got, err := s.Contacts().Get(ctx, c.ID)
		require.NoError(t, err)
		require.Equal(t, c, got)
	})
	t.Run("Opportunity", func(t *testing.T) {
		o := &crm.Opportunity{Meta: crm.Meta{ID: ref()}, CustomerID: ref(), Name: "ERP", Amount: amount,
			Stage: crm.StageWon, Probability: 100, ExpectedClose: ptr(at), ClosedAt: ptr(at), OwnerID: ref(),
			DepartmentID: ref(), Fields: fullFields()}
		require.NoError(t, s.Opportunities().Create(ctx, o))
		got, err := s.Opportunities().Get(ctx, o.ID)
		require.NoError(t, err)
		require.Equal(t, o, got, "amount keeps its scale: %s", got.Amount)

		unpriced := crmtest.Opportunity(ids, ref(), func(o *crm.Opportunity) { o.Amount = crm.Money{} })
		require.NoError(t, s.Opportunities().Create(ctx, unpriced))
		got, err = s.Opportunities().Get(ctx, unpriced.ID)
		require.NoError(t, err)
		require.True(t, got.Amount.IsZero())
	})
	t.Run("Activity", func(t *testing.T) {
		a := &crm.Activity{Meta: crm.Meta{ID: ref()}, Kind: crm.ActivityVisit, Subject: crm.Ref{Type: crm.TypeCustomer, ID: ref()},
			ActorID: ref(), OccurredAt: at, Note: "visited", NextFollowUpAt: ptr(at.Add(48 * time.Hour)), Fields: fullFields()}
		require.NoError(t, s.Activities().Create(ctx, a))
		got, err := s.Activities().Get(ctx, a.ID)
		require.NoError(t, err)
		require.Equal(t, a, got)
	})
	t.Run("Ticket", func(t *testing.T) {
		tk := &crm.Ticket{Meta: crm.Meta{ID: ref()}, CustomerID: ref(), ContactID: ref(), Subject: "登录失败",
			Description: "cannot log in", Priority: crm.PriorityUrgent, Status: crm.TicketClosed, AssigneeID: ref(),
			TeamID: ref(), DepartmentID: ref(), ResolvedAt: ptr(at), ClosedAt: ptr(at.Add(time.Hour)), FirstResponseAt: ptr(at.Add(-time.Hour)),
			Satisfaction: 4, SLATimerID: ref(), SLADueAt: ptr(at.Add(4 * time.Hour)), Fields: fullFields()}
		require.NoError(t, s.Tickets().Create(ctx, tk))
		got, err := s.Tickets().Get(ctx, tk.ID)
		require.NoError(t, err)
		require.Equal(t, tk, got)
	})
	t.Run("User", func(t *testing.T) {
		u := &crm.User{Meta: crm.Meta{ID: ref()}, Name: "Li Wei", Email: "Li.Wei@Example.com", Phone: "1",
			DepartmentID: ref(), Roles: []string{"sales"}, Skills: []string{"erp"}, Regions: []string{"cn-east"},
			Capacity: 20, Active: true, Fields: fullFields()}
		require.NoError(t, s.Users().Create(ctx, u))
		got, err := s.Users().Get(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
	})
	t.Run("Department", func(t *testing.T) {
		root := crmtest.Department(ids, "总部", crm.NilID)
		require.NoError(t, s.Departments().Create(ctx, root))
		d := &crm.Department{Meta: crm.Meta{ID: ref()}, Name: "华东", ParentID: root.ID, ManagerID: ref(), Fields: fullFields()}
		require.NoError(t, s.Departments().Create(ctx, d))
		got, err := s.Departments().Get(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, got)
	})
	t.Run("Team", func(t *testing.T) {
		tm := &crm.Team{Meta: crm.Meta{ID: ref()}, Name: "Inside sales", DepartmentID: ref(), LeadID: ref(),
			MemberIDs: []crm.ID{ref(), ref()}, Fields: fullFields()}
		require.NoError(t, s.Teams().Create(ctx, tm))
		got, err := s.Teams().Get(ctx, tm.ID)
		require.NoError(t, err)
		require.Equal(t, tm, got)
	})
	t.Run("EmptyAndNilListsStayApart", func(t *testing.T) {
		u := crmtest.User(ids, func(u *crm.User) { u.Roles = []string{}; u.Fields = crm.Fields{} })
		require.NoError(t, s.Users().Create(ctx, u))
		got, err := s.Users().Get(ctx, u.ID)
		require.NoError(t, err)
		require.Equal(t, u, got)
		require.NotNil(t, got.Roles)
		require.Nil(t, got.Skills)
		require.NotNil(t, got.Fields)
	})
	t.Run("Event", func(t *testing.T) {
		e := &crm.Event{ID: ref(), Type: "customer.created", Subject: crm.Ref{Type: crm.TypeCustomer, ID: ref()},
			ActorID: ref(), OccurredAt: at, Payload: json.RawMessage(`{ "b": 1, "a": [1, 2] }`)}
		require.NoError(t, s.Events().Append(ctx, e))
		require.Equal(t, "acme", e.TenantID)
		require.Positive(t, e.Seq)
		pending, err := s.Outbox().Pending(context.Background(), 10)
		require.NoError(t, err)
		require.Len(t, pending, 1)
		want := *e
		want.Payload = json.RawMessage(`{"b":1,"a":[1,2]}`)
		require.Equal(t, want, pending[0])
	})
}
