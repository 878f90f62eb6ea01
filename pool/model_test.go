package pool_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/pool"
)

func TestParsePoolReportsBadFieldsByName(t *testing.T) {
	for _, tc := range []struct {
		name, json string
		fields     []string
	}{
		{"ZeroDaysAreRefusedNotReadAsOff",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[{"id":"r","effective_from":"2026-01-01T00:00:00Z","conditions":[{"kind":"no_follow_up","days":0}]}]}`,
			[]string{"recycle[0].conditions[0].days"}},
		{"NegativeLevelDays",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[{"id":"r","effective_from":"2026-01-01T00:00:00Z","conditions":[{"kind":"no_deal","days":5,"level_days":{"A":-1}}]}]}`,
			[]string{"recycle[0].conditions[0].level_days.A"}},
		{"UnknownConditionAndCombine",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[{"id":"r","effective_from":"2026-01-01T00:00:00Z","combine":"xor","conditions":[{"kind":"no_visit","days":5}]}]}`,
			[]string{"recycle[0].combine", "recycle[0].conditions[0].kind"}},
		{"ProtectionExpiredNeedsAProtectionPeriod",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[{"id":"r","effective_from":"2026-01-01T00:00:00Z","conditions":[{"kind":"protection_expired"}]}]}`,
			[]string{"recycle[0].conditions[0].kind"}},
		{"VersionsMustBeInOrder",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[
			 {"id":"a","effective_from":"2026-02-01T00:00:00Z","conditions":[{"kind":"no_deal","days":5}]},
			 {"id":"b","effective_from":"2026-01-01T00:00:00Z","conditions":[{"kind":"no_deal","days":5}]}]}`,
			[]string{"recycle[1].effective_from"}},
		{"UnknownEntryFieldAndHiddenField",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"entry":{"any":[{"field":"province","in":["x"]},{"field":"level","contains":""}]},"hidden_fields":["name"]}`,
			[]string{"entry.any[0].field", "entry.any[1].contains", "hidden_fields[0]"}},
		{"LimitsOfTheWrongPlaceAndNegativeMax",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"limits":[{"kind":"owned_customers","max":3},{"kind":"daily_claims","max":-1}]}`,
			[]string{"limits[0].kind", "limits[1].max"}},
		{"MissingNameUnknownZoneNegativeCooldown",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","members":{},"time_zone":"Mars/Olympus","previous_owner_cooldown_days":-2}`,
			[]string{"name", "time_zone", "previous_owner_cooldown_days"}},
		{"NoticeDaysBeyondAYear",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"notice_days":366}`,
			[]string{"notice_days"}},
		{"NegativeNoticeDays",
			`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"notice_days":-1}`,
			[]string{"notice_days"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := pool.ParsePool([]byte(tc.json))
			var ve crm.ValidationErrors
			require.ErrorAs(t, err, &ve)
			require.Equal(t, tc.fields, ve.Fields())
		})
	}
	t.Run("UnknownJSONFieldsAreRefused", func(t *testing.T) {
		_, err := pool.ParsePool([]byte(`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","daily_limit":5}`))
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
		require.ErrorContains(t, err, "daily_limit")
	})
	t.Run("ExceptionMustNameUsersOnly", func(t *testing.T) {
		_, err := pool.ParseLimits([]byte(`[{"kind":"owned_customers","max":3,"exception":true,"roles":["sales"]}]`))
		var ve crm.ValidationErrors
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []string{"[0].users"}, ve.Fields())
	})
}

func FuzzParsePool(f *testing.F) {
	f.Add([]byte(eastPoolJSON))
	f.Add([]byte(`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"recycle":[{"id":"r","effective_from":"2026-01-01T00:00:00Z","conditions":[{"kind":"no_follow_up","days":0}]}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := pool.ParsePool(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		require.NoError(t, p.Validate())
		// A valid pool answers every due-time question without panicking.
		p.Due(pool.Facts{OwnedSince: time.Unix(1e9, 0), Level: "A"})
	})
}

func TestDue(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rule := func(id string, from time.Time, combine pool.Combine, cs ...pool.Condition) pool.RecycleRule {
		return pool.RecycleRule{ID: id, EffectiveFrom: from, Combine: combine, Conditions: cs,
			Exclude: pool.Exclusions{Dealt: true, OpenOpportunity: true}}
	}
	followUp := pool.Condition{Kind: pool.NoFollowUp, Days: 10, LevelDays: map[string]int{"A": 20}}
	deal := pool.Condition{Kind: pool.NoDeal, Days: 30}
	for _, tc := range []struct {
		name   string
		rules  []pool.RecycleRule
		facts  pool.Facts
		want   time.Time
		reason pool.ConditionKind
		ruleID string
	}{
		{"CountsFromTheClaim", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0}, t0.Add(10 * day), pool.NoFollowUp, "r"},
		{"CountsFromALaterFollowUp", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0, LastFollowUp: t0.Add(5 * day)}, t0.Add(15 * day), pool.NoFollowUp, "r"},
		{"LevelDaysOverrideDays", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0, Level: "A"}, t0.Add(20 * day), pool.NoFollowUp, "r"},
		{"AnyTakesTheEarliest", []pool.RecycleRule{rule("r", t0, pool.Any, followUp, deal)},
			pool.Facts{OwnedSince: t0}, t0.Add(10 * day), pool.NoFollowUp, "r"},
		{"AllTakesTheLatest", []pool.RecycleRule{rule("r", t0, pool.All, followUp, deal)},
			pool.Facts{OwnedSince: t0}, t0.Add(30 * day), pool.NoDeal, "r"},
		{"DealtIsExcluded", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0, Dealt: true}, time.Time{}, "", ""},
		{"OpenOpportunityIsExcluded", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0, OpenOpportunity: true}, time.Time{}, "", ""},
		{"LockedIsNeverDue", []pool.RecycleRule{rule("r", t0, pool.Any, followUp)},
			pool.Facts{OwnedSince: t0, Locked: true}, time.Time{}, "", ""},
		{"ProtectionExpiredUsesTheProtectionEnd", []pool.RecycleRule{rule("r", t0, pool.Any, pool.Condition{Kind: pool.ProtectionExpired})},
			pool.Facts{OwnedSince: t0, ProtectedUntil: t0.Add(7 * day)}, t0.Add(7 * day), pool.ProtectionExpired, "r"},
		{"ANewVersionNeverRecyclesBeforeItTakesEffect", []pool.RecycleRule{
			rule("v1", t0.Add(-100*day), pool.Any, pool.Condition{Kind: pool.NoFollowUp, Days: 60}),
			rule("v2", t0.Add(20*day), pool.Any, pool.Condition{Kind: pool.NoFollowUp, Days: 5})},
			pool.Facts{OwnedSince: t0}, t0.Add(20 * day), pool.NoFollowUp, "v2"},
		{"TheOldVersionDecidesWhatFallsDueBeforeTheNewOne", []pool.RecycleRule{
			rule("v1", t0.Add(-100*day), pool.Any, pool.Condition{Kind: pool.NoFollowUp, Days: 3}),
			rule("v2", t0.Add(20*day), pool.Any, pool.Condition{Kind: pool.NoFollowUp, Days: 90})},
			pool.Facts{OwnedSince: t0}, t0.Add(3 * day), pool.NoFollowUp, "v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pool.Pool{Recycle: tc.rules}
			due, why, r := p.Due(tc.facts)
			require.True(t, tc.want.Equal(due), "want %s, got %s", tc.want, due)
			require.Equal(t, tc.reason, why)
			if tc.ruleID == "" {
				require.Nil(t, r)
			} else {
				require.Equal(t, tc.ruleID, r.ID)
			}
		})
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	_, err := pool.New(nil, nil)
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	_, err = pool.New(bareStore{}, &pool.Config{CollisionOnClaim: "maybe", SweepBatch: -1, SweepWorkers: 65,
		Cascade: pool.Cascade{OnClaim: pool.CascadeRule{Contacts: "drop"}}})
	var ve crm.ValidationErrors
	require.ErrorAs(t, err, &ve)
	require.Equal(t, []string{"collision_on_claim", "cascade.on_claim.contacts", "sweep_batch", "sweep_workers"}, ve.Fields())
}

// A pool written with the entry form crmkit used before its one condition
// language is refused with the form to write instead.
func TestParsePoolRefusesTheRetiredEntryForm(t *testing.T) {
	t.Parallel()
	_, err := pool.ParsePool([]byte(`{"id":"0196a8b0-0000-7000-8000-000000000001","name":"p","members":{},"entry":{"match":[{"field":"region","in":["x"]}]}}`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.ErrorContains(t, err, `entry.match: the {"match": [{"field", "in"}]} form is retired: write a condition`)
}
