package workflow_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/workflow"
)

var (
	rep, salesMgr, director, financeA, financeB, deputy = uid(101), uid(102), uid(103), uid(104), uid(105), uid(106)
	company, salesDept                                  = uid(201), uid(202)
)

func quoteSchema(t testing.TB) *cond.Schema {
	t.Helper()
	s, err := cond.NewSchema(
		cond.Field{Name: "discount_percent", Kind: cond.KindNumber},
		cond.Field{Name: "amount", Kind: cond.KindMoney, Currency: "CNY"},
		cond.Field{Name: "owner_id", Kind: cond.KindID},
		cond.Field{Name: "department_id", Kind: cond.KindID},
	)
	require.NoError(t, err)
	return s
}

func org(t testing.TB, delegations ...workflow.Delegation) *workflow.Org {
	t.Helper()
	user := func(id, dept crm.ID, name string, roles ...string) crm.User {
		return crm.User{Meta: crm.Meta{ID: id}, Name: name, Email: name + "@example.cn", DepartmentID: dept, Roles: roles, Active: true}
	}
	tree, err := crm.NewDepartmentTree([]crm.Department{
		{Meta: crm.Meta{ID: company}, Name: "Company", ManagerID: director},
		{Meta: crm.Meta{ID: salesDept}, Name: "Sales", ParentID: company, ManagerID: salesMgr},
	})
	require.NoError(t, err)
	o, err := workflow.NewOrg([]crm.User{
		user(rep, salesDept, "li"), user(salesMgr, salesDept, "liu", "sales_manager"),
		user(director, company, "chen", "director"), user(financeA, company, "zhou", "finance"),
		user(financeB, company, "wu", "finance"), user(deputy, salesDept, "deputy"),
	}, tree, delegations)
	require.NoError(t, err)
	return o
}

const discountChain = `{
	"key": "quote_discount", "version": 1, "record_type": "opportunity",
	"entry": {"field": "discount_percent", "exists": true},
	"steps": [
		{"name": "sales_manager", "when": {"field": "discount_percent", "range": {"gt": 10}},
		 "approvers": [{"department_manager": {}}],
		 "timeout": "8h", "on_timeout": {"action": "escalate", "to": {"role": "director"}}},
		{"name": "director", "when": {"field": "discount_percent", "range": {"gt": 20}},
		 "approvers": [{"role": "director"}], "on_reject": "previous_step"},
		{"name": "finance", "when": {"field": "amount", "range": {"gt": "1000000 CNY"}},
		 "approvers": [{"role": "finance"}], "rule": "all", "parallel": true}
	]}`

type approvalKit struct {
	clock *crmtest.Clock
	eng   *workflow.Approvals
	def   *workflow.Definition
	s     *cond.Schema
}

func newApprovalKit(t testing.TB, chain string, delegations ...workflow.Delegation) *approvalKit {
	t.Helper()
	s := quoteSchema(t)
	o := org(t, delegations...)
	def, err := workflow.ParseDefinition(s, o, []byte(chain))
	require.NoError(t, err)
	clock := crmtest.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
	eng, err := workflow.NewApprovals(o, &workflow.ApprovalsConfig{IDs: crmtest.NewIDs(), Clock: clock})
	require.NoError(t, err)
	return &approvalKit{clock: clock, eng: eng, def: def, s: s}
}

func (k *approvalKit) quote(t testing.TB, discount, amount string) *cond.Record {
	t.Helper()
	r := k.s.NewRecord()
	require.NoError(t, r.SetNumber("discount_percent", decimal.RequireFromString(discount)))
	m, err := crm.ParseMoney(amount + " CNY")
	require.NoError(t, err)
	require.NoError(t, r.SetMoney("amount", m))
	require.NoError(t, r.SetID("owner_id", rep))
	return r
}

func (k *approvalKit) submit(t testing.TB, discount, amount string) (*workflow.Instance, []crm.Event) {
	t.Helper()
	in, evs, err := k.eng.Submit(k.def, k.quote(t, discount, amount), crm.Ref{Type: crm.TypeOpportunity, ID: uid(500)}, rep)
	require.NoError(t, err)
	return in, evs
}

func stepNames(in *workflow.Instance) []string {
	var out []string
	for _, s := range in.Steps {
		out = append(out, fmt.Sprintf("%s@%d", s.Name, s.Stage))
	}
	return out
}

func types(evs []crm.Event) []crm.EventType {
	out := make([]crm.EventType, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestApprovalThresholds(t *testing.T) {
	t.Parallel()
	k := newApprovalKit(t, discountChain)
	cases := []struct {
		name, discount, amount string
		steps                  []string
	}{
		{"TenPercentExactlyNeedsNobody", "10", "5000", nil},
		{"JustOverTenPercentNeedsTheManager", "10.01", "5000", []string{"sales_manager@0"}},
		{"OverTwentyPercentAlsoNeedsTheDirector", "20.5", "5000", []string{"sales_manager@0", "director@1"}},
		{"AMillionExactlyNeedsNoFinance", "12", "1000000.00", []string{"sales_manager@0"}},
		{"OverAMillionAddsFinanceInParallel", "25", "1000000.01", []string{"sales_manager@0", "director@1", "finance@1"}},
		{"FinanceAloneRunsFirst", "5", "2000000", []string{"finance@0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, evs := k.submit(t, tc.discount, tc.amount)
			require.Equal(t, tc.steps, stepNames(in))
			if tc.steps == nil {
				require.Equal(t, workflow.ApprovalApproved, in.Status)
				require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted, workflow.EventApprovalApproved}, types(evs))
				require.False(t, in.IsLocked())
			} else {
				require.True(t, in.IsLocked())
			}
		})
	}
}

func TestApprovalChainRunsToTheEnd(t *testing.T) {
	t.Parallel()
	k := newApprovalKit(t, discountChain)
	in, evs := k.submit(t, "25", "2000000")
	require.Equal(t, []crm.EventType{workflow.EventApprovalSubmitted}, types(evs))
	require.Equal(t, []crm.ID{salesMgr}, in.PendingApprovers())

	evs, err := k.eng.Approve(in, salesMgr, "ok")
	require.NoError(t, err)
	require.Equal(t, []crm.EventType{workflow.EventApprovalStepApproved}, types(evs))
	require.ElementsMatch(t, []crm.ID{director, financeA, financeB}, in.PendingApprovers())

	_, err = k.eng.Approve(in, director, "")
	require.NoError(t, err)
	_, err = k.eng.Approve(in, financeA, "")
	require.NoError(t, err)
	require.True(t, in.IsLocked(), "finance needs everyone")
	evs, err = k.eng.Approve(in, financeB, "")
	require.NoError(t, err)
	require.Equal(t, []crm.EventType{workflow.EventApprovalStepApproved, workflow.EventApprovalApproved}, types(evs))
	require.Equal(t, workflow.ApprovalApproved, in.Status)
	require.False(t, in.IsLocked())
	for _, e := range evs {
		require.Equal(t, crm.Ref{Type: workflow.RecordTypeApproval, ID: in.ID}, e.Subject)
		require.NoError(t, e.Validate())
	}

	t.Run("ADecisionOnAFinishedRequestIsAFailedPrecondition", func(t *testing.T) {
		_, err := k.eng.Approve(in, financeB, "")
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	})
}

func TestApprovalRejection(t *testing.T) {
	t.Parallel()
	t.Run("GoesBackToThePreviousStep", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "25", "100")
		_, err := k.eng.Approve(in, salesMgr, "")
		require.NoError(t, err)
		evs, err := k.eng.Reject(in, director, "too deep")
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalSentBack}, types(evs))
		require.Equal(t, 0, in.Stage)
		require.Equal(t, []crm.ID{salesMgr}, in.PendingApprovers())
		require.True(t, in.IsLocked())
	})
	t.Run("EndsTheRequestWhenBackToTheSubmitter", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		evs, err := k.eng.Reject(in, salesMgr, "no")
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalRejected}, types(evs))
		require.Equal(t, workflow.ApprovalRejected, in.Status)
		require.False(t, in.IsLocked())
	})
	t.Run("OneRejectionEndsAnAllStep", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "0", "2000000")
		_, err := k.eng.Approve(in, financeA, "")
		require.NoError(t, err)
		_, err = k.eng.Reject(in, financeB, "")
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalRejected, in.Status)
	})
}

func TestApprovalActors(t *testing.T) {
	t.Parallel()
	t.Run("StrangersCannotDecide", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		before := in.Clone()
		_, err := k.eng.Approve(in, director, "")
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		require.Equal(t, before, in, "nothing half-done")
	})
	t.Run("OnlyTheSubmitterRecalls", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		_, err := k.eng.Recall(in, salesMgr, "")
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
		evs, err := k.eng.Recall(in, rep, "wrong price")
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalRecalled}, types(evs))
		require.Equal(t, workflow.ApprovalRecalled, in.Status)
		require.False(t, in.IsLocked())
	})
	t.Run("AnAwayApproverIsReplacedByTheDelegate", func(t *testing.T) {
		away := workflow.Delegation{From: salesMgr, To: deputy, Start: time.Date(2026, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 5, 0, 0, 0, 0, time.UTC)}
		k := newApprovalKit(t, discountChain, away)
		in, _ := k.submit(t, "15", "100")
		require.Equal(t, []crm.ID{deputy}, in.PendingApprovers())
		require.Equal(t, salesMgr, in.Steps[0].Tasks[0].OnBehalfOf)
		_, err := k.eng.Approve(in, deputy, "on behalf of liu")
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, in.Status)
	})
	t.Run("DelegateAndReassignMoveTheTask", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		evs, err := k.eng.Delegate(in, salesMgr, deputy)
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalDelegated}, types(evs))
		require.Equal(t, []crm.ID{deputy}, in.PendingApprovers())
		evs, err = k.eng.Reassign(in, director, deputy, financeA)
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalReassigned}, types(evs))
		require.Equal(t, []crm.ID{financeA}, in.PendingApprovers())
		require.Equal(t, salesMgr, in.Steps[0].Tasks[0].OnBehalfOf)
		_, err = k.eng.Delegate(in, financeA, uid(999))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
	t.Run("CommentsAreKept", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		evs, err := k.eng.AddComment(in, rep, "customer signs friday")
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalCommented}, types(evs))
		require.Len(t, in.Comments, 1)
		_, err = k.eng.AddComment(in, rep, " ")
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestApprovalTimeouts(t *testing.T) {
	t.Parallel()
	t.Run("EscalatesOnceAfterTheTimeout", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		evs, err := k.eng.Tick(in, k.clock.Now().Add(7*time.Hour))
		require.NoError(t, err)
		require.Empty(t, evs)
		now := k.clock.Advance(8 * time.Hour)
		evs, err = k.eng.Tick(in, now)
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalEscalated}, types(evs))
		require.ElementsMatch(t, []crm.ID{salesMgr, director}, in.PendingApprovers())
		evs, err = k.eng.Tick(in, now.Add(time.Hour))
		require.NoError(t, err)
		require.Empty(t, evs, "tick is idempotent")
		_, err = k.eng.Approve(in, director, "approved while liu is out")
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, in.Status)
	})
	t.Run("An escalation approver settles an all step the silent approver blocked", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
			{"name":"board","approvers":[{"role":"finance"}],"rule":"all",
			 "timeout":"1h","on_timeout":{"action":"escalate","to":{"role":"director"}}}]}`
		for _, decide := range []string{"approve", "reject"} {
			k := newApprovalKit(t, chain)
			in, _ := k.submit(t, "1", "1")
			_, err := k.eng.Approve(in, financeA, "")
			require.NoError(t, err)
			_, err = k.eng.Tick(in, k.clock.Now().Add(time.Hour))
			require.NoError(t, err)
			require.ElementsMatch(t, []crm.ID{financeB, director}, in.PendingApprovers())
			if decide == "approve" {
				_, err = k.eng.Approve(in, director, "approved for wu, who is out")
				require.NoError(t, err)
				require.Equal(t, workflow.ApprovalApproved, in.Status)
			} else {
				_, err = k.eng.Reject(in, director, "too cheap")
				require.NoError(t, err)
				require.Equal(t, workflow.ApprovalRejected, in.Status)
			}
		}
	})
	t.Run("Before the escalation an all step waits for everyone", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
			{"name":"board","approvers":[{"role":"finance"}],"rule":"all"}]}`
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		_, err := k.eng.Approve(in, financeA, "")
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalPending, in.Status)
		require.Equal(t, []crm.ID{financeB}, in.PendingApprovers())
	})
	t.Run("A repeating reminder fires once per period until the step settles", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
			{"name":"manager","approvers":[{"user":"` + salesMgr.String() + `"}],"timeout":"4h",
			 "on_timeout":{"action":"remind","every":"2h"}}]}`
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		start := k.clock.Now()
		reminders := 0
		for _, h := range []int{3, 4, 4, 5, 6, 9, 9} {
			evs, err := k.eng.Tick(in, start.Add(time.Duration(h)*time.Hour))
			require.NoError(t, err)
			reminders += len(evs)
		}
		// At 4h, at 6h, and once at 9h for the late tick (8h was missed).
		require.Equal(t, 3, reminders)
		require.True(t, start.Add(11*time.Hour).Equal(in.NextDueAt()), "the next reminder counts from the last one")
		_, err := k.eng.Approve(in, salesMgr, "")
		require.NoError(t, err)
		require.True(t, in.NextDueAt().IsZero(), "a settled request reminds nobody")
	})
	for _, action := range []string{"approve", "reject", "remind"} {
		t.Run("Auto "+action, func(t *testing.T) {
			chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
				{"name":"manager","approvers":[{"user":"` + salesMgr.String() + `"}],"timeout":"1h","on_timeout":{"action":"` + action + `"}}]}`
			k := newApprovalKit(t, chain)
			in, _ := k.submit(t, "1", "1")
			evs, err := k.eng.Tick(in, k.clock.Now().Add(time.Hour))
			require.NoError(t, err)
			want := map[string]workflow.ApprovalStatus{"approve": workflow.ApprovalApproved, "reject": workflow.ApprovalRejected, "remind": workflow.ApprovalPending}
			require.Equal(t, want[action], in.Status, "%v", types(evs))
			require.NotEmpty(t, evs)
		})
	}
}

func TestApprovalQuorum(t *testing.T) {
	t.Parallel()
	chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
		{"name":"board","approvers":[{"role":"finance"},{"role":"director"},{"user":"` + salesMgr.String() + `"}],"rule":"quorum","quorum":2}]}`
	t.Run("ApprovesAtTheQuorum", func(t *testing.T) {
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		_, err := k.eng.Approve(in, financeA, "")
		require.NoError(t, err)
		_, err = k.eng.Reject(in, financeB, "")
		require.NoError(t, err)
		require.True(t, in.IsLocked())
		_, err = k.eng.Approve(in, director, "")
		require.NoError(t, err)
		require.Equal(t, workflow.ApprovalApproved, in.Status)
	})
	t.Run("RejectsWhenTheQuorumIsOutOfReach", func(t *testing.T) {
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		for _, u := range []crm.ID{financeA, financeB, director} {
			_, err := k.eng.Reject(in, u, "")
			require.NoError(t, err)
		}
		require.Equal(t, workflow.ApprovalRejected, in.Status)
	})
}

func TestApprovalVersioning(t *testing.T) {
	t.Parallel()
	k := newApprovalKit(t, discountChain)
	in, _ := k.submit(t, "15", "100")
	require.Equal(t, 1, in.DefinitionVersion)
	v2 := `{"key":"quote_discount","version":2,"record_type":"opportunity","steps":[{"name":"director","approvers":[{"role":"director"}]}]}`
	k2 := newApprovalKit(t, v2)
	fresh, _ := k2.submit(t, "15", "100")
	require.Equal(t, 2, fresh.DefinitionVersion)
	require.Equal(t, []crm.ID{director}, fresh.PendingApprovers())
	// The running request still waits on the manager of version 1.
	require.Equal(t, []crm.ID{salesMgr}, in.PendingApprovers())
	_, err := k.eng.Approve(in, salesMgr, "")
	require.NoError(t, err)
	require.Equal(t, workflow.ApprovalApproved, in.Status)
}

func TestApprovalDefinitionValidation(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, chain, field string }{
		{"RoleNobodyHas", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"cfo"}]}]}`, "steps[0].approvers[0].role"},
		{"NoApprovers", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[]}]}`, "steps[0].approvers"},
		{"InactiveUser", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"user":"` + uid(999).String() + `"}]}]}`, "steps[0].approvers[0].user"},
		{"UnknownThresholdField", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","when":{"field":"discount","range":{"gt":10}},"approvers":[{"role":"director"}]}]}`, "steps[0].when.field"},
		{"FieldApproverNotAnID", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"field":"amount"}]}]}`, "steps[0].approvers[0].field"},
		{"UnknownRule", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"rule":"most"}]}`, "steps[0].rule"},
		{"QuorumWithoutSize", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"rule":"quorum"}]}`, "steps[0].quorum"},
		{"ParallelFirstStep", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"parallel":true}]}`, "steps[0].parallel"},
		{"EscalationWithoutTarget", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"timeout":"1h","on_timeout":{"action":"escalate"}}]}`, "steps[0].on_timeout.to"},
		{"TimeoutActionWithoutTimeout", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"on_timeout":{"action":"remind"}}]}`, "steps[0].timeout"},
		{"RepeatingEscalation", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"timeout":"1h","on_timeout":{"action":"escalate","to":{"role":"director"},"every":"1h"}}]}`, "steps[0].on_timeout.every"},
		{"ReminderStorm", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}],"timeout":"1h","on_timeout":{"action":"remind","every":"1s"}}]}`, "steps[0].on_timeout.every"},
		{"NoVersion", `{"key":"k","record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}]}]}`, "version"},
		{"RepeatedStep", `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"director"}]},{"name":"a","approvers":[{"role":"director"}]}]}`, "steps[1].name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := workflow.ParseDefinition(quoteSchema(t), org(t), []byte(tc.chain))
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
}

func TestApprovalSubmitErrors(t *testing.T) {
	t.Parallel()
	t.Run("RecordsOutsideTheEntryCriteriaAreRefused", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		rec := k.s.NewRecord()
		_, _, err := k.eng.Submit(k.def, rec, crm.Ref{Type: crm.TypeOpportunity, ID: uid(1)}, rep)
		require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	})
	t.Run("AStepWithNoPossibleApproverIsRefusedAtSubmit", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"owner","approvers":[{"field":"department_id"}]}]}`
		k := newApprovalKit(t, chain)
		_, _, err := k.eng.Submit(k.def, k.quote(t, "1", "1"), crm.Ref{Type: crm.TypeOpportunity, ID: uid(1)}, rep)
		var es crm.ValidationErrors
		require.True(t, errors.As(err, &es), "%v", err)
		require.Equal(t, []string{"steps[0].approvers"}, es.Fields())
	})
	t.Run("ManagerLevelsClimbTheTree", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"up","approvers":[{"department_manager":{"levels_up":1}}]}]}`
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		require.Equal(t, []crm.ID{director}, in.PendingApprovers())
	})
	t.Run("WrongRecordTypeIsRefused", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		_, _, err := k.eng.Submit(k.def, k.quote(t, "15", "1"), crm.Ref{Type: crm.TypeLead, ID: uid(1)}, rep)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func FuzzParseDefinition(f *testing.F) {
	s := quoteSchema(f)
	o := org(f)
	f.Add([]byte(discountChain))
	f.Add([]byte(`{"key":"k","version":1,"record_type":"opportunity","steps":[{"name":"a","approvers":[{"role":"finance"}],"rule":"quorum","quorum":2}]}`))
	f.Add([]byte(`{"key":"k","version":1,"record_type":"x","steps":[{"name":"a","approvers":[{"department_manager":{"levels_up":-1}}],"timeout":"-1h"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		def, err := workflow.ParseDefinition(s, o, data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		require.NotEmpty(t, def.Key())
	})
}

// TestApprovalSeparationOfDuties checks that nobody approves their own
// request and nobody counts twice in a step, whatever the way in: the
// approver kinds, delegation, reassignment or an escalation.
func TestApprovalSeparationOfDuties(t *testing.T) {
	t.Parallel()
	ref := crm.Ref{Type: crm.TypeOpportunity, ID: uid(500)}
	t.Run("A submitter who holds the approving role is left out of the step", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _, err := k.eng.Submit(k.def, k.quote(t, "15", "2000000"), ref, financeA)
		require.NoError(t, err)
		require.Equal(t, []string{"sales_manager", "finance"}, []string{in.Steps[0].Name, in.Steps[1].Name})
		require.Equal(t, []crm.ID{director}, in.Steps[0].Approvers, "finance sits in the company department, managed by the director")
		require.Equal(t, []crm.ID{financeB}, in.Steps[1].Approvers)
	})
	t.Run("A step only the submitter could approve is refused at submission, naming the step", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		_, _, err := k.eng.Submit(k.def, k.quote(t, "25", "100"), ref, director)
		var errs crm.ValidationErrors
		require.ErrorAs(t, err, &errs)
		fields := []string{}
		for _, e := range errs {
			fields = append(fields, e.Field)
		}
		require.Contains(t, fields, "steps[1].approvers")
		require.Contains(t, err.Error(), "other than the submitter")
	})
	t.Run("A delegation to the submitter is passed over", func(t *testing.T) {
		toRep := workflow.Delegation{From: salesMgr, To: rep, Start: time.Date(2026, 5, 30, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 5, 0, 0, 0, 0, time.UTC)}
		k := newApprovalKit(t, discountChain, toRep)
		in, _ := k.submit(t, "15", "100")
		require.Equal(t, []crm.ID{salesMgr}, in.PendingApprovers())
	})
	t.Run("Nobody hands a task to the submitter", func(t *testing.T) {
		k := newApprovalKit(t, discountChain)
		in, _ := k.submit(t, "15", "100")
		before := in.Clone()
		_, err := k.eng.Delegate(in, salesMgr, rep)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = k.eng.Reassign(in, director, salesMgr, rep)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.Equal(t, before, in, "nothing half-done")
	})
	t.Run("An approver who already decided cannot take a second task in the step", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
			{"name":"board","approvers":[{"role":"finance"},{"role":"director"}],"rule":"all"}]}`
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		_, err := k.eng.Approve(in, financeA, "")
		require.NoError(t, err)
		before := in.Clone()
		_, err = k.eng.Delegate(in, director, financeA)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		_, err = k.eng.Reassign(in, salesMgr, financeB, financeA)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.Equal(t, before, in, "nothing half-done")
		require.True(t, in.IsLocked(), "one person's approval does not count for the others")
	})
	t.Run("An escalation adds nobody who already holds a task in the step", func(t *testing.T) {
		chain := `{"key":"k","version":1,"record_type":"opportunity","steps":[
			{"name":"board","approvers":[{"role":"director"},{"role":"finance"}],"rule":"all",
			 "timeout":"1h","on_timeout":{"action":"escalate","to":{"role":"director"}}}]}`
		k := newApprovalKit(t, chain)
		in, _ := k.submit(t, "1", "1")
		_, err := k.eng.Approve(in, director, "")
		require.NoError(t, err)
		evs, err := k.eng.Tick(in, k.clock.Now().Add(time.Hour))
		require.NoError(t, err)
		require.Equal(t, []crm.EventType{workflow.EventApprovalEscalated}, types(evs))
		require.Len(t, in.Steps[0].Tasks, 3, "the director approved already and gets no second task")
		_, err = k.eng.Approve(in, director, "")
		require.ErrorIs(t, err, crm.ErrPermissionDenied)
	})
}
