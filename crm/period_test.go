package crm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
)

func TestPeriodRefusesBadRangesAndTooFineBuckets(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		p     crm.Period
		field string
	}{
		"end before start":       {crm.Period{From: from, To: from.Add(-time.Hour), Bucket: crm.BucketDay}, "to"},
		"empty":                  {crm.Period{From: from, To: from, Bucket: crm.BucketDay}, "to"},
		"no start":               {crm.Period{To: from, Bucket: crm.BucketDay}, "from"},
		"unknown bucket":         {crm.Period{From: from, To: from.AddDate(0, 1, 0), Bucket: "hour"}, "bucket"},
		"daily over 20 years":    {crm.Period{From: from, To: from.AddDate(20, 0, 0), Bucket: crm.BucketDay}, "bucket"},
		"weekly over 20 years":   {crm.Period{From: from, To: from.AddDate(20, 0, 0), Bucket: crm.BucketWeek}, "bucket"},
		"monthly over 100 years": {crm.Period{From: from, To: from.AddDate(100, 0, 0), Bucket: crm.BucketMonth}, "bucket"},
	} {
		err := tc.p.Validate()
		require.Error(t, err, name)
		var ve *crm.ValidationError
		require.True(t, errors.As(err, &ve), name)
		require.Equal(t, tc.field, ve.Field, "%s: %v", name, err)
	}
	ok := crm.Period{From: from, To: from.AddDate(20, 0, 0), Bucket: crm.BucketQuarter}
	require.NoError(t, ok.Validate())
	require.Len(t, ok.Buckets(), 80)
}

func TestPeriodBucketsFollowTheTenantsTimeZone(t *testing.T) {
	t.Parallel()
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	// 2026-03-31 20:00 UTC is 2026-04-01 04:00 in Shanghai: April there.
	at := time.Date(2026, 3, 31, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		b    crm.Bucket
		want time.Time
	}{
		{crm.BucketDay, time.Date(2026, 4, 1, 0, 0, 0, 0, sh)},
		{crm.BucketWeek, time.Date(2026, 3, 30, 0, 0, 0, 0, sh)}, // a Monday
		{crm.BucketMonth, time.Date(2026, 4, 1, 0, 0, 0, 0, sh)},
		{crm.BucketQuarter, time.Date(2026, 4, 1, 0, 0, 0, 0, sh)},
	} {
		p := crm.Period{Bucket: tc.b, Location: sh}
		require.True(t, tc.want.Equal(p.Start(at)), "%s: %v", tc.b, p.Start(at))
		require.True(t, tc.want.Equal(p.Start(tc.want)), "%s: a bucket's start is its own start", tc.b)
	}
	utc := crm.Period{Bucket: crm.BucketQuarter}
	require.True(t, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Equal(utc.Start(at)), "in UTC the same instant is in Q1")
	p := crm.Period{From: time.Date(2026, 1, 15, 0, 0, 0, 0, sh), To: time.Date(2026, 4, 2, 0, 0, 0, 0, sh), Bucket: crm.BucketMonth, Location: sh}
	require.NoError(t, p.Validate())
	require.Len(t, p.Buckets(), 4)
	require.True(t, p.Buckets()[0].Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, sh)))
}
