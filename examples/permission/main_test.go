package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunPrintsTheDecisionsThatMatter(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()
	for _, want := range []string{
		`audit 09:00: first policy, 7 roles`,
		`edit marketing's lead              allowed: rule "marketing.rules[0]"`,
		`edit a lead owned by sales         denied: rule "marketing.keep_off_sales"`,
		`delete marketing's lead            denied: rule "sales.keep_marketing_leads"`,
		`claim from the public pool         allowed: rule "sales_rep.rules[5]"`,
		`view a customer of Sales East      allowed: rule "sales_manager.rules[1]"`,
		`change budget                      denied: field "budget" is read-only for the subject`,
		`Fay (finance)        opportunity fields visible: [name amount stage expected_close]`,
		`Mia (marketing)      opportunity fields visible: [name stage expected_close]`,
		`Ian (IT)             customer fields visible: [name email level address credit_limit]`,
		`Sam (sales east)     sees Huateng (east), Hongda (in the public pool) (pushed down`,
		`Sue (sales manager)  sees Huateng (east), Xinda (west), Key account, Hongda (in the public pool) (pushed down: 1 owners, 3 departments, 1 pools; post-filter false)`,
		`audit 10:00: policy changed by`,
		`an invalid policy is refused and the current one stays: permission: invalid roles[0].rules[0].scope`,
	} {
		require.Contains(t, got, want)
	}
}
