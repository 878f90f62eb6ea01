package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRun runs the example end to end and checks the lines a reader relies
// on: the rule score and its reasons, the stored snapshot, the lifecycle move,
// decay a month later, and (when the shared file is present) the predictive
// model's cross-validated AUC.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out))
	got := out.String()

	t.Run("the rule model scores the lead and says why", func(t *testing.T) {
		require.Contains(t, got, "smb-inbound v1: fit 80, engagement 46.53, total 126.53, grade A3, stage sales_qualified\n")
		for _, reason := range []string{
			"fit/firmographics target-industry: +25",
			"fit/person decision-maker: +20",
			"engagement/activity demo-request: +36.23 (of +40)",
			"fit/firmographics capped at 60 (from 70)",
		} {
			require.Contains(t, got, reason)
		}
	})
	t.Run("the snapshot is stored and the lead moves through its lifecycle", func(t *testing.T) {
		require.Contains(t, got, "stored snapshot: model smb-inbound v1, total 126.53, grade A3, stage sales_qualified, version 1\n")
		require.Contains(t, got, "moved new -> sales_qualified (scored A3)\n")
		require.Contains(t, got, "history: 2026-03-02 new -> sales_qualified\n")
	})
	t.Run("a month later the same events count for less", func(t *testing.T) {
		require.Contains(t, got, `30 days later: engagement 10.10 (was 46.53), grade A4, stage "marketing_qualified", snapshot version 2`)
	})
	t.Run("the predictive model is trained on the shared leads file", func(t *testing.T) {
		if !sharedLeads(t) {
			t.Skip("../shared/data/leads/leads_train.csv is absent next to the repository; predictive part not checked")
		}
		m := regexp.MustCompile(`(\d+) leads; default model \(ensemble\), 5-fold cross-validated ROC AUC (\d\.\d+)`).FindStringSubmatch(got)
		require.NotNil(t, m, "no AUC line in:\n%s", got)
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		require.Greater(t, n, 1000)
		auc, err := strconv.ParseFloat(m[2], 64)
		require.NoError(t, err)
		require.GreaterOrEqual(t, auc, 0.90)
		require.Equal(t, 2, strings.Count(got, "top features:"))
		require.Contains(t, got, "log-odds  Total Time Spent on Website = ")
	})
}

// sharedLeads reports whether the shared leads file exists next to the
// repository root (the directory holding go.mod).
func sharedLeads(t *testing.T) bool {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			_, err := os.Stat(filepath.Join(dir, "..", "shared", "data", "leads", "leads_train.csv"))
			return err == nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return false
		}
		dir = parent
	}
}
