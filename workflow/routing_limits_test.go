package workflow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow"
)

// routingSet is a valid rule set with its strings replaced.
func routingSet(name, fallback, ruleName, queue, ruleFallback, skill string) *workflow.RuleSet {
	return &workflow.RuleSet{
		Name: name, RecordType: crm.TypeLead, Version: 1, FallbackQueue: fallback,
		Rules: []workflow.Rule{
			{Name: "first", Target: workflow.Target{Queue: "q"}},
			{Name: "second", Target: workflow.Target{Team: teamEast}},
			{Name: "third", Target: workflow.Target{Queue: "q"}},
			{Name: ruleName, Target: workflow.Target{Queue: queue}, FallbackQueue: ruleFallback, RequireSkills: []string{"go", skill}},
		},
	}
}

func TestNewRouterRefusesRoutingStringsNoIndexCouldHold(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("队", n) }
	cases := []struct {
		name, field string
		set         *workflow.RuleSet
	}{
		{"RuleSetNameOf3000Characters", "name", routingSet(strings.Repeat("x", 3000), "q", "fourth", "q", "", "sql")},
		{"RuleSetNameOf65Characters", "name", routingSet(long(65), "q", "fourth", "q", "", "sql")},
		{"RuleSetNameWithNUL", "name", routingSet("leads\x00", "q", "fourth", "q", "", "sql")},
		{"RuleSetNameWithInvalidUTF8", "name", routingSet("leads\xff", "q", "fourth", "q", "", "sql")},
		{"RuleSetNameWithNewline", "name", routingSet("leads\n", "q", "fourth", "q", "", "sql")},
		{"FallbackQueueOf65Characters", "fallback_queue", routingSet("leads", long(65), "fourth", "q", "", "sql")},
		{"FallbackQueueWithNUL", "fallback_queue", routingSet("leads", "q\x00", "fourth", "q", "", "sql")},
		{"RuleNameOf65Characters", "rules[3].name", routingSet("leads", "q", strings.Repeat("r", 65), "q", "", "sql")},
		{"RuleNameOf3000Characters", "rules[3].name", routingSet("leads", "q", strings.Repeat("r", 3000), "q", "", "sql")},
		{"TargetQueueOf65Characters", "rules[3].target.queue", routingSet("leads", "q", "fourth", long(65), "", "sql")},
		{"TargetQueueWithInvalidUTF8", "rules[3].target.queue", routingSet("leads", "q", "fourth", "\xed\xa0\x80", "", "sql")},
		{"RuleFallbackQueueWithNUL", "rules[3].fallback_queue", routingSet("leads", "q", "fourth", "q", "\x00", "sql")},
		{"RequiredSkillOf65Characters", "rules[3].require_skills[1]", routingSet("leads", "q", "fourth", "q", "", long(65))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			members := roster(t, 2)
			_, err := workflow.NewRouter(leadSchema(t), c.set, members, []workflow.Team{{ID: teamEast, Members: ids(members)}})
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var ve *crm.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es), "%v", err)
			require.Equal(t, []string{c.field}, es.Fields(), err.Error())
		})
	}
	t.Run("AJSONRuleSetNamesTheSameField", func(t *testing.T) {
		t.Parallel()
		rs, err := workflow.ParseRuleSet([]byte(fmt.Sprintf(`{"name":%q,"record_type":"lead","fallback_queue":"q","rules":[]}`, strings.Repeat("x", 3000))))
		require.NoError(t, err)
		_, err = workflow.NewRouter(leadSchema(t), rs, nil, nil)
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Equal(t, "name", ve.Field)
	})
}

func TestNewRouterAcceptsRoutingStringsAtTheLimit(t *testing.T) {
	t.Parallel()
	members := roster(t, 2)
	at := strings.Repeat("队", workflow.MaxQueueLen)
	set := routingSet(strings.Repeat("规", workflow.MaxRuleSetNameLen), at, strings.Repeat("r", workflow.MaxRuleNameLen), at, at, strings.Repeat("技", workflow.MaxSkillLen))
	_, err := workflow.NewRouter(leadSchema(t), set, members, []workflow.Team{{ID: teamEast, Members: ids(members)}})
	require.NoError(t, err)
}

func TestRouteRefusesANowWhoseQuotaDayIsNotADate(t *testing.T) {
	t.Parallel()
	r := router(t, teamRules("round_robin"), roster(t, 2))
	store := newMemRouting()
	for _, now := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		_, err := r.Route(context.Background(), store, &workflow.Request{Record: lead(t, r.Schema(), leadValues{region: "cn-east"}), Now: now})
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), "%v", err)
		require.Equal(t, "now", ve.Field)
	}
	require.Empty(t, store.daily, "nothing was counted")
}

// releaseRecorder is a RoutingStore that records the rule sets whose load
// is released.
type releaseRecorder struct {
	workflow.RoutingStore
	released []string
}

func (r *releaseRecorder) ReleaseLoad(_ context.Context, ruleSet string, _ crm.ID) error {
	r.released = append(r.released, ruleSet)
	return nil
}

func TestReleaseLoadPassesTheRuleSetsOwnName(t *testing.T) {
	t.Parallel()
	members := roster(t, 2)
	router, err := workflow.NewRouter(leadSchema(t), routingSet("leads", "q", "fourth", "q", "", "sql"), members, []workflow.Team{{ID: teamEast, Members: ids(members)}})
	require.NoError(t, err)
	ctx := context.Background()
	store := &releaseRecorder{}
	require.ErrorIs(t, router.ReleaseLoad(ctx, store, crm.NilID), crm.ErrInvalidArgument)
	require.ErrorIs(t, router.ReleaseLoad(ctx, nil, members[0].UserID), crm.ErrInvalidArgument)
	require.NoError(t, router.ReleaseLoad(ctx, store, members[0].UserID))
	require.Equal(t, []string{"leads"}, store.released)
}
