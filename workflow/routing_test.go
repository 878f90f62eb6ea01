package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

var teamEast = uid(900)

func roster(t testing.TB, n int) []workflow.Member {
	t.Helper()
	cal := officeCalendar(t)
	out := make([]workflow.Member, n)
	for i := range out {
		out[i] = workflow.Member{UserID: uid(i + 1), Name: fmt.Sprintf("rep%d", i+1), Active: true, Calendar: cal}
	}
	return out
}

func ids(ms []workflow.Member) []crm.ID {
	out := make([]crm.ID, len(ms))
	for i := range ms {
		out[i] = ms[i].UserID
	}
	return out
}

func router(t testing.TB, rules string, members []workflow.Member) *workflow.Router {
	t.Helper()
	rs, err := workflow.ParseRuleSet([]byte(rules))
	require.NoError(t, err)
	r, err := workflow.NewRouter(leadSchema(t), rs, members, []workflow.Team{{ID: teamEast, Name: "east", Members: ids(members)}})
	require.NoError(t, err)
	return r
}

func teamRules(strategy string) string {
	return fmt.Sprintf(`{"name":"leads","record_type":"lead","fallback_queue":"unassigned","rules":[
		{"name":"east","when":{"field":"region","prefix":"cn-"},"target":{"team":%q},"strategy":%q,"skills_field":"language"}]}`, teamEast, strategy)
}

// route decides n times, applying every decision, and counts per user.
func route(t testing.TB, r *workflow.Router, st *workflow.State, req *workflow.Request, n int) map[crm.ID]int {
	t.Helper()
	got := map[crm.ID]int{}
	for i := 0; i < n; i++ {
		d, err := r.Decide(st, req)
		require.NoError(t, err)
		require.NoError(t, st.Apply(&d))
		if d.UserID != crm.NilID {
			got[d.UserID]++
		} else {
			got[crm.NilID]++
		}
	}
	return got
}

func TestRoundRobin(t *testing.T) {
	t.Parallel()
	s := leadSchema(t)
	req := &workflow.Request{Record: lead(t, s, leadValues{region: "cn-east"}), Now: monday10}
	t.Run("SharesEvenlyOverTime", func(t *testing.T) {
		members := roster(t, 4)
		r := router(t, teamRules("round_robin"), members)
		got := route(t, r, r.NewState(), &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10}, 400)
		for _, m := range members {
			require.Equal(t, 100, got[m.UserID])
		}
	})
	t.Run("SkipsUnavailableWithoutFavouringTheFirst", func(t *testing.T) {
		members := roster(t, 3)
		members[1].Absences = []workflow.Absence{{From: monday10.Add(-time.Hour), To: monday10.Add(time.Hour)}}
		r := router(t, teamRules("round_robin"), members)
		st := r.NewState()
		var seq []crm.ID
		for i := 0; i < 6; i++ {
			d, err := r.Decide(st, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10})
			require.NoError(t, err)
			require.NoError(t, st.Apply(&d))
			seq = append(seq, d.UserID)
		}
		require.Equal(t, []crm.ID{uid(1), uid(3), uid(1), uid(3), uid(1), uid(3)}, seq)
	})
	t.Run("ContinuesAfterALeaverRatherThanRestarting", func(t *testing.T) {
		members := roster(t, 4)
		r := router(t, teamRules("round_robin"), append(members[:2:2], members[3]))
		st := r.NewState()
		// uid(3) was chosen last, then left: uid(4) is next, not uid(1).
		require.NoError(t, st.SetCursor("east", workflow.Cursor{Last: uid(3), Version: 7}))
		d, err := r.Decide(st, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10})
		require.NoError(t, err)
		require.Equal(t, uid(4), d.UserID)
		require.Equal(t, workflow.Cursor{Last: uid(4), Version: 8}, d.Cursor)
	})
	_ = req
}

func TestStrategies(t *testing.T) {
	t.Parallel()
	t.Run("WeightedSharesInProportionToCapacity", func(t *testing.T) {
		members := roster(t, 3)
		for i := range members {
			members[i].Capacity = 100 * (i + 1)
		}
		r := router(t, teamRules("weighted"), members)
		got := route(t, r, r.NewState(), &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10}, 600)
		require.Equal(t, 100, got[uid(1)])
		require.Equal(t, 200, got[uid(2)])
		require.Equal(t, 300, got[uid(3)])
	})
	t.Run("LeastLoadedTakesTheFewestOpenItems", func(t *testing.T) {
		r := router(t, teamRules("least_loaded"), roster(t, 3))
		st := r.NewState()
		st.SetLoad(uid(1), 5, 0)
		st.SetLoad(uid(2), 2, 0)
		st.SetLoad(uid(3), 4, 0)
		got := route(t, r, st, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10}, 4)
		// uid(2) takes two to reach 4, then the tie with uid(3) rotates.
		require.Equal(t, map[crm.ID]int{uid(2): 3, uid(3): 1}, got)
	})
	t.Run("SkillsMatchPrefersTheSkilledMember", func(t *testing.T) {
		members := roster(t, 3)
		members[0].Skills = []string{"en"}
		members[2].Skills = []string{"ja", "en"}
		r := router(t, teamRules("skills"), members)
		got := route(t, r, r.NewState(), &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east", language: "ja"}), Now: monday10}, 3)
		require.Equal(t, map[crm.ID]int{uid(3): 3}, got)
		got = route(t, r, r.NewState(), &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east", language: "fr"}), Now: monday10}, 1)
		require.Equal(t, map[crm.ID]int{crm.NilID: 1}, got, "nobody speaks french: fallback queue")
	})
}

func TestAvailabilityAndLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		change func(m *workflow.Member, st *workflow.State)
		now    time.Time
		reason workflow.SkipReason
	}{
		{"InactiveMembersAreSkipped", func(m *workflow.Member, _ *workflow.State) { m.Active = false }, monday10, workflow.SkipInactive},
		{"AbsentMembersAreSkipped", func(m *workflow.Member, _ *workflow.State) {
			m.Absences = []workflow.Absence{{From: monday10, To: monday10.Add(time.Hour)}}
		}, monday10, workflow.SkipAbsent},
		{"MembersOffDutyAreSkipped", func(*workflow.Member, *workflow.State) {}, monday10.Add(12 * time.Hour), workflow.SkipOffDuty},
		{"MembersAtCapacityAreSkipped", func(m *workflow.Member, st *workflow.State) { m.Capacity = 3 }, monday10, workflow.SkipAtCapacity},
		{"MembersOverTheDailyQuotaAreSkipped", func(m *workflow.Member, st *workflow.State) { m.DailyQuota = 2 }, monday10, workflow.SkipDailyQuota},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			members := roster(t, 1)
			tc.change(&members[0], nil)
			r := router(t, teamRules("round_robin"), members)
			st := r.NewState()
			st.SetLoad(uid(1), 3, 2)
			req := &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: tc.now}
			d, err := r.Decide(st, req)
			require.NoError(t, err)
			require.Equal(t, "unassigned", d.Queue)
			require.True(t, d.Fallback)
			e, err := r.Explain(st, req)
			require.NoError(t, err)
			require.Equal(t, d, e.Decision)
			require.Len(t, e.Candidates, 1)
			require.Equal(t, tc.reason, e.Candidates[0].Skipped)
		})
	}
}

func TestRuleOrderTargetsAndSticky(t *testing.T) {
	t.Parallel()
	members := roster(t, 3)
	rules := fmt.Sprintf(`{"name":"leads","record_type":"lead","fallback_queue":"unassigned","rules":[
		{"name":"vip","when":{"field":"tags","equals":"vip"},"target":{"user":%q}},
		{"name":"big","when":{"field":"company_size","range":{"gte":1000}},"target":{"queue":"key_accounts"}},
		{"name":"east","when":{"field":"region","prefix":"cn-"},"target":{"team":%q},"sticky":true},
		{"name":"east_again","when":{"field":"region","prefix":"cn-"},"target":{"queue":"never"}}]}`, uid(3), teamEast)
	r := router(t, rules, members)
	s := r.Schema()
	decide := func(v leadValues, owner crm.ID) workflow.Decision {
		d, err := r.Decide(r.NewState(), &workflow.Request{Record: lead(t, s, v), Now: monday10, Owner: owner})
		require.NoError(t, err)
		return d
	}
	t.Run("FirstMatchingRuleWins", func(t *testing.T) {
		d := decide(leadValues{region: "cn-east", tags: []string{"vip"}, size: 5000}, crm.NilID)
		require.Equal(t, "vip", d.Rule)
		require.Equal(t, uid(3), d.UserID)
	})
	t.Run("QueueTargetsAssignNobody", func(t *testing.T) {
		d := decide(leadValues{region: "cn-east", size: 5000}, crm.NilID)
		require.Equal(t, workflow.Decision{Rule: "big", Queue: "key_accounts"}, d)
	})
	t.Run("StickyGivesTheAccountOwner", func(t *testing.T) {
		d := decide(leadValues{region: "cn-east"}, uid(2))
		require.Equal(t, uid(2), d.UserID)
		require.True(t, d.Sticky)
		require.False(t, d.CursorMoved)
	})
	t.Run("An owner at capacity falls back to the strategy and is explained once", func(t *testing.T) {
		capped := slices.Clone(members)
		capped[1].Capacity = 1
		rc := router(t, rules, capped)
		st := rc.NewState()
		st.SetLoad(uid(2), 1, 1)
		e, err := rc.Explain(st, &workflow.Request{Record: lead(t, rc.Schema(), leadValues{region: "cn-east"}), Now: monday10, Owner: uid(2)})
		require.NoError(t, err)
		require.False(t, e.Decision.Sticky)
		require.Equal(t, uid(1), e.Decision.UserID)
		seen := map[crm.ID]int{}
		for _, c := range e.Candidates {
			seen[c.UserID]++
		}
		require.Equal(t, map[crm.ID]int{uid(1): 1, uid(2): 1, uid(3): 1}, seen, e.String())
		d, err := rc.Decide(st, &workflow.Request{Record: lead(t, rc.Schema(), leadValues{region: "cn-east"}), Now: monday10, Owner: uid(2)})
		require.NoError(t, err)
		require.Equal(t, e.Decision, d)
	})
	t.Run("NoMatchGoesToTheFallbackQueue", func(t *testing.T) {
		d := decide(leadValues{region: "us-west"}, crm.NilID)
		require.Equal(t, workflow.Decision{Queue: "unassigned", Fallback: true}, d)
	})
	t.Run("DecideIsDeterministicAndLeavesStateAlone", func(t *testing.T) {
		st := r.NewState()
		req := &workflow.Request{Record: lead(t, s, leadValues{region: "cn-east"}), Now: monday10}
		a, err := r.Decide(st, req)
		require.NoError(t, err)
		b, err := r.Decide(st, req)
		require.NoError(t, err)
		require.Equal(t, a, b)
		require.Equal(t, workflow.Cursor{}, st.Cursor("east"))
	})
	t.Run("ApplyRefusesAStaleDecision", func(t *testing.T) {
		st := r.NewState()
		req := &workflow.Request{Record: lead(t, s, leadValues{region: "cn-east"}), Now: monday10}
		a, err := r.Decide(st, req)
		require.NoError(t, err)
		require.NoError(t, st.Apply(&a))
		require.ErrorIs(t, st.Apply(&a), crm.ErrConflict)
	})
}

func TestExplanationNamesEveryCandidate(t *testing.T) {
	t.Parallel()
	members := roster(t, 3)
	members[0].Active = false
	members[1].Capacity = 1
	r := router(t, teamRules("least_loaded"), members)
	st := r.NewState()
	st.SetLoad(uid(2), 1, 1)
	e, err := r.Explain(st, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: monday10})
	require.NoError(t, err)
	require.Equal(t, uid(3), e.Decision.UserID)
	require.Equal(t, "rule east matched\nstrategy least_loaded\n  rep1: skipped, inactive\n  rep2: skipped, at capacity\n  rep3: chosen (open 0, today 0)\n-> user "+uid(3).String(), e.String())
}

func TestRouterValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, rules, field string
	}{
		{"UnknownConditionField", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"queue":"x"}},{"name":"b","when":{"all":[{"field":"regoin","equals":"x"}]},"target":{"team":%q}}]}`, teamEast), "rules[1].when.all[0].field"},
		{"UnknownTeam", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"team":%q}}]}`, uid(77)), "rules[0].target.team"},
		{"UnknownUser", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"user":%q}}]}`, uid(77)), "rules[0].target.user"},
		{"TwoTargets", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"team":%q,"queue":"x"}}]}`, teamEast), "rules[0].target"},
		{"NoFallback", `{"name":"l","record_type":"lead","rules":[{"name":"a","target":{"queue":"x"}}]}`, "fallback_queue"},
		{"UnknownStrategy", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"team":%q},"strategy":"random"}]}`, teamEast), "rules[0].strategy"},
		{"RepeatedRuleName", `{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"queue":"x"}},{"name":"a","target":{"queue":"y"}}]}`, "rules[1].name"},
		{"SkillsWithoutField", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"team":%q},"strategy":"skills"}]}`, teamEast), "rules[0].skills_field"},
		{"SkillsFieldOfWrongKind", fmt.Sprintf(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[{"name":"a","target":{"team":%q},"strategy":"skills","skills_field":"company_size"}]}`, teamEast), "rules[0].skills_field"},
		{"RecordTypeThatCannotNameEvents", `{"name":"l","record_type":"Sales Lead","fallback_queue":"q","rules":[]}`, "record_type"},
		{"UnknownZone", `{"name":"l","record_type":"lead","fallback_queue":"q","time_zone":"Nowhere/City","rules":[]}`, "time_zone"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := workflow.ParseRuleSet([]byte(tc.rules))
			require.NoError(t, err)
			members := roster(t, 2)
			_, err = workflow.NewRouter(leadSchema(t), rs, members, []workflow.Team{{ID: teamEast, Members: ids(members)}})
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
	t.Run("TeamsNameUnknownMembers", func(t *testing.T) {
		rs, err := workflow.ParseRuleSet([]byte(`{"name":"l","record_type":"lead","fallback_queue":"q","rules":[]}`))
		require.NoError(t, err)
		_, err = workflow.NewRouter(leadSchema(t), rs, roster(t, 1), []workflow.Team{{ID: teamEast, Members: []crm.ID{uid(1), uid(2)}}})
		var es crm.ValidationErrors
		require.True(t, errors.As(err, &es))
		require.Equal(t, []string{"teams[0].members[1]"}, es.Fields())
	})
	t.Run("RecordsOfAnotherSchemaAreRefused", func(t *testing.T) {
		r := router(t, teamRules("round_robin"), roster(t, 1))
		_, err := r.Decide(r.NewState(), &workflow.Request{Record: leadSchema(t).NewRecord(), Now: monday10})
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

// memRouting is a RoutingStore held in memory, with the atomic
// compare-and-swap and conditional increments the port asks of adapters.
type memRouting struct {
	mu      sync.Mutex
	cursors map[string]workflow.Cursor
	loads   map[crm.ID]int
	daily   map[string]int
}

func newMemRouting() *memRouting {
	return &memRouting{cursors: map[string]workflow.Cursor{}, loads: map[crm.ID]int{}, daily: map[string]int{}}
}

func (m *memRouting) LoadRouting(ctx context.Context, set, day string, st *workflow.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, rule := range st.Rules() {
		if err := st.SetCursor(rule, m.cursors[set+"/"+rule]); err != nil {
			return err
		}
	}
	for _, u := range st.Members() {
		st.SetLoad(u, m.loads[u], m.daily[day+u.String()])
	}
	return ctx.Err()
}

func (m *memRouting) CommitRouting(ctx context.Context, c workflow.RoutingCommit) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := c.RuleSet + "/" + c.Rule
	if c.CursorMoved && m.cursors[key].Version != c.PrevCursor.Version {
		return crm.ErrConflict
	}
	if c.Capacity > 0 && m.loads[c.UserID] >= c.Capacity || c.DailyQuota > 0 && m.daily[c.Day+c.UserID.String()] >= c.DailyQuota {
		return crm.ErrConflict
	}
	if c.CursorMoved {
		m.cursors[key] = c.Cursor
	}
	m.loads[c.UserID]++
	m.daily[c.Day+c.UserID.String()]++
	return nil
}

func (m *memRouting) ReleaseLoad(_ context.Context, _ string, u crm.ID) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.loads[u] > 0 {
		m.loads[u]--
	}
	return nil
}

func TestRouteStaysFairAcrossConcurrentInstances(t *testing.T) {
	t.Parallel()
	members := roster(t, 4)
	members[0].Capacity = 50
	r := router(t, teamRules("round_robin"), members)
	store := newMemRouting()
	rec := lead(t, r.Schema(), leadValues{region: "cn-east"})
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[crm.ID]int{}
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				var d workflow.Decision
				var err error
				for { // a host retries a unit of work that lost every attempt
					d, err = r.Route(context.Background(), store, &workflow.Request{Record: rec, Now: monday10})
					if !errors.Is(err, crm.ErrConflict) {
						break
					}
				}
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				got[d.UserID]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 50, got[uid(1)], "capacity holds under concurrency")
	for _, u := range []crm.ID{uid(2), uid(3), uid(4)} {
		require.InDelta(t, 350.0/3, got[u], 1)
	}
	require.Equal(t, int64(400), store.cursors["leads/east"].Version)
}

func TestDecideDoesNotAllocate(t *testing.T) {
	r, st, req := benchRouter(t)
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := r.Decide(st, req); err != nil {
			t.Fatal(err)
		}
	})
	require.Zero(t, allocs)
}

// benchRouter builds 100 rules of which only the last matches, targeting a
// team of 50 members who share a calendar, with uneven loads.
func benchRouter(t testing.TB) (*workflow.Router, *workflow.State, *workflow.Request) {
	members := roster(t, 50)
	for i := range members {
		members[i].Capacity = 40
		members[i].DailyQuota = 30
		members[i].Skills = []string{"en", "zh"}
	}
	rules := `{"name":"leads","record_type":"lead","fallback_queue":"unassigned","rules":[`
	for i := 0; i < 99; i++ {
		rules += fmt.Sprintf(`{"name":"r%d","when":{"all":[{"field":"region","in":["r%d","x%d"]},{"field":"company_size","range":{"gte":%d}}]},"target":{"team":%q},"strategy":"least_loaded"},`, i, i, i, i, teamEast)
	}
	rules += fmt.Sprintf(`{"name":"last","when":{"all":[{"field":"region","prefix":"cn-"},{"field":"company_size","range":{"gte":10}}]},"target":{"team":%q},"strategy":"least_loaded","require_skills":["zh"]}]}`, teamEast)
	r := router(t, rules, members)
	st := r.NewState()
	for i, m := range members {
		st.SetLoad(m.UserID, (i*7)%40, i%30)
	}
	return r, st, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east", size: 200}), Now: monday10}
}

func BenchmarkDecide100Rules50Candidates(b *testing.B) {
	r, st, req := benchRouter(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Decide(st, req); err != nil {
			b.Fatal(err)
		}
	}
}
