package workflow_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/cond"
	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// FuzzParseRuleSet feeds rule sets to ParseRuleSet and NewRouter: bad ones
// are invalid-argument errors, and a router built from a good one decides
// and explains the same thing for any record without a panic.
func FuzzParseRuleSet(f *testing.F) {
	s := leadSchema(f)
	members := roster(f, 3)
	members[1].Calendar = officeCalendar(f)
	teams := []workflow.Team{{ID: teamEast, Name: "east", Members: ids(members)}}
	f.Add([]byte(teamRules("round_robin")))
	f.Add([]byte(teamRules("skills")))
	f.Add([]byte(`{"name":"leads","record_type":"lead","fallback_queue":"q","time_zone":"Asia/Shanghai","rules":[
		{"name":"vip","when":{"any":[{"field":"vip","equals":true},{"not":{"field":"region","exists":true}}]},"target":{"user":"` + uid(2).String() + `"}},
		{"name":"big","when":{"all":[{"field":"budget","range":{"gte":"100000 CNY"}},{"field":"tags","in":["a","b"]}]},"target":{"queue":"key"}},
		{"name":"rest","target":{"team":"` + teamEast.String() + `"},"strategy":"weighted","sticky":true,"require_skills":["en"]}]}`))
	f.Add([]byte(`{"name":"l","record_type":"Lead","fallback_queue":"","rules":[{"name":"A","target":{}}]}`))
	f.Add([]byte(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[]} trailing`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := workflow.ParseRuleSet(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		r, err := workflow.NewRouter(s, rs, members, teams)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		for _, rec := range []*cond.Record{s.NewRecord(), lead(t, s, leadValues{region: "cn-east", language: "en", size: 5000, tags: []string{"a"}, budget: "200000 CNY"})} {
			req := &workflow.Request{Record: rec, Now: monday10, Owner: uid(3)}
			d, err := r.Decide(r.NewState(), req)
			require.NoError(t, err)
			require.True(t, (d.UserID == crm.NilID) != (d.Queue == ""), "exactly one of user and queue: %+v", d)
			e, err := r.Explain(r.NewState(), req)
			require.NoError(t, err)
			require.Equal(t, d, e.Decision, "explain decides what decide decides")
		}
	})
}

// FuzzParseMachine feeds hand-off machines to ParseMachine: bad ones are
// invalid-argument errors, never a panic, and a good one has an initial
// stage every move starts from.
func FuzzParseMachine(f *testing.F) {
	s := handoffSchema(f)
	tree := handoffTree(f)
	f.Add([]byte(pipeline))
	f.Add([]byte(`{"name":"m","record_type":"lead","initial":"a","stages":["a","b","c"],"transitions":[{"from":"a","to":"b"},{"from":"b","to":"c"},{"from":"c","to":"a"}]}`))
	f.Add([]byte(`{"name":"m","record_type":"lead","initial":"a","stages":["a","b"],"transitions":[{"from":"a","to":"b","guard":{"field":"score","range":{"gte":"x"}},"required":["nope"],"actions":[{"kind":"fly"}]}]}`))
	f.Add([]byte(`{"name":"m","record_type":"lead","initial":"a","stages":["a","a"],"transitions":[]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := workflow.ParseMachine(s, tree, data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		require.NotEmpty(t, m.Initial())
	})
}
