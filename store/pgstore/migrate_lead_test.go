package pgstore_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/crmtest"
	"github.com/crmkit/crmkit/lead"
	"github.com/crmkit/crmkit/store/pgstore"
)

// oldLeadModel is a scoring model in the condition form of schema version
// 10, with every operator it had. Fit points are powers of two, so a fit
// score says which rules held.
const oldLeadModel = `{"id":"inbound","version":1,
 "fit":{"groups":[{"name":"who","rules":[
   {"id":"industry","when":{"field":"industry","op":"in","values":["manufacturing","retail"]},"points":1},
   {"id":"east","when":{"field":"region","op":"equals","value":"CN-East"},"points":2},
   {"id":"director","when":{"any":[{"field":"title","op":"contains","value":"director"},{"field":"tags","op":"equals","value":"vip"}]},"points":4},
   {"id":"reachable","when":{"all":[{"field":"phone","op":"exists"},{"not":{"field":"email","op":"contains","value":"@gmail."}}]},"points":8},
   {"id":"small","when":{"field":"company_size","op":"range","max":49},"points":16},
   {"id":"mid","when":{"field":"company_size","op":"range","min":50,"max":499},"points":32},
   {"id":"size-50","when":{"field":"company_size","op":"in","values":["50","500"]},"points":64},
   {"id":"partner","when":{"field":"fields.partner","op":"equals","value":"True"},"points":128},
   {"id":"budget","when":{"field":"fields.budget","op":"range","min":10000.5},"points":256},
   {"id":"budget-exact","when":{"field":"fields.budget","op":"equals","value":"20000"},"points":512}]}]},
 "engagement":{"groups":[{"name":"did","rules":[
   {"id":"visits","when":{"event":{"kind":"web_visit","within_days":30}},"points_each":1},
   {"id":"east-demo","when":{"all":[{"field":"region","op":"in","values":["cn-east"]},{"event":{"kind":"demo_request"}}]},"points":10}]}]}}`

// Lead scoring models stored with the conditions of schema version 10 are
// rewritten into the condition language by migration 11, load through the
// store and lead's loader, and score leads as they did; migrating down
// restores the old form. Predictor documents are left alone.
func TestMigrationRewritesLeadScoringModels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := testPool(t)
	schema := freshSchema(t, db)
	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 10))

	table := pgx.Identifier{schema, "crm_lead_models"}.Sanitize()
	const predictor = `{"field":"x","op":"equals","value":"not a condition"}`
	for kind, data := range map[string]string{"scoring": oldLeadModel, "predictor": predictor} {
		_, err := db.Exec(ctx, "INSERT INTO "+table+" (tenant_id, kind, model_id, version, data, created_at) VALUES ('', $1, 'inbound', 1, $2, now())",
			kind, []byte(data))
		require.NoError(t, err)
	}
	_, err := lead.ParseModel([]byte(oldLeadModel))
	require.ErrorContains(t, err, "is retired", "the old form is refused until it is migrated")

	require.NoError(t, pgstore.Migrate(ctx, db, schema))
	clock := crmtest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	s, err := pgstore.New(db, &pgstore.Config{Schema: schema, Clock: clock})
	require.NoError(t, err)
	svc, err := lead.New(s, &lead.Config{Clock: clock, IDs: crmtest.NewIDs()})
	require.NoError(t, err)
	m, err := svc.LoadModel(ctx, "inbound", 1)
	require.NoError(t, err)

	now := clock.Now()
	day := 24 * time.Hour
	events := []lead.Engagement{
		{Kind: "web_visit", At: now.Add(-day), Count: 2},
		{Kind: "web_visit", At: now.Add(-40 * day)},
		{Kind: "demo_request", At: now.Add(-2 * day)},
	}
	for _, tc := range []struct {
		name     string
		lead     crm.Lead
		fit, eng float64
	}{
		{"EveryTestOfATypedLead", crm.Lead{Name: "A", Industry: "Retail", Region: "cn-east", Title: "Sales Director", Phone: "1", Email: "a@corp.cn",
			CompanySize: 50, Fields: crm.Fields{"partner": crm.Bool(true), "budget": crm.Number(decimal.NewFromInt(20000))}},
			1 + 2 + 4 + 8 + 32 + 64 + 128 + 256 + 512, 2 + 10},
		// No size held for company_size 0; text custom fields compare as text.
		{"TextCustomFieldsAndNoSize", crm.Lead{Name: "B", Phone: "1", Email: "b@gmail.com", Tags: []string{"VIP"},
			Fields: crm.Fields{"partner": crm.String("true"), "budget": crm.String("20000")}},
			4 + 16 + 128 + 512, 2},
		{"ASmallCompany", crm.Lead{Name: "C", Region: "cn-west", CompanySize: 10, Fields: crm.Fields{"partner": crm.Bool(false)}},
			16, 2},
	} {
		r := m.Score(&tc.lead, events, now)
		require.Equal(t, tc.fit, r.Fit, tc.name)
		require.Equal(t, tc.eng, r.Engagement, tc.name)
	}

	rules := m.Spec().Fit.Groups[0].Rules
	when := func(i int) string {
		b, err := json.Marshal(rules[i].When)
		require.NoError(t, err)
		return string(b)
	}
	require.JSONEq(t, `{"field":"industry","in":["manufacturing","retail"]}`, when(0))
	require.JSONEq(t, `{"all":[{"field":"phone","exists":true},{"not":{"field":"email","contains":"@gmail."}}]}`, when(3))
	require.JSONEq(t, `{"any":[{"field":"company_size","range":{"lte":49}},{"field":"company_size","exists":false}]}`, when(4))
	require.JSONEq(t, `{"field":"company_size","range":{"gte":50,"lte":499}}`, when(5))
	require.JSONEq(t, `{"any":[{"field":"fields.partner","equals":true},{"field":"fields.partner","equals":"True"}]}`, when(7))
	require.NoError(t, svc.SaveModel(ctx, m), "saving the migrated version again changes nothing")

	require.NoError(t, pgstore.MigrateDown(ctx, db, schema, 10))
	stored := map[string]string{}
	rows, err := db.Query(ctx, "SELECT kind, data FROM "+table)
	require.NoError(t, err)
	for rows.Next() {
		var kind string
		var data []byte
		require.NoError(t, rows.Scan(&kind, &data))
		stored[kind] = string(data)
	}
	require.NoError(t, rows.Err())
	require.JSONEq(t, oldLeadModel, stored["scoring"])
	require.Equal(t, predictor, stored["predictor"], "a predictor document is not touched")
}
