package calendar_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmkit/crmkit/crm"
	"github.com/crmkit/crmkit/workflow/calendar"
)

var officeDay = []calendar.Span{{Start: "09:00", End: "12:00"}, {Start: "13:00", End: "18:00"}}

func shanghai(t testing.TB) *calendar.Calendar {
	t.Helper()
	c, err := calendar.New(&calendar.Spec{
		Name:     "cn-sales",
		TimeZone: "Asia/Shanghai",
		Week: map[string][]calendar.Span{
			"monday": officeDay, "tuesday": officeDay, "wednesday": officeDay,
			"thursday": officeDay, "friday": officeDay,
		},
		Holidays:  []string{"2026-10-01", "2026-10-02"},
		ExtraDays: []calendar.ExtraDay{{Date: "2026-09-27", Like: "monday"}},
	})
	require.NoError(t, err)
	return c
}

func at(t testing.TB, c *calendar.Calendar, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, c.Location())
	require.NoError(t, err)
	return v
}

func TestAdd(t *testing.T) {
	t.Parallel()
	c := shanghai(t)
	cases := []struct {
		name, start string
		d           time.Duration
		want        string
	}{
		{"StaysWithinOneMorning", "2026-06-01 09:30", 2 * time.Hour, "2026-06-01 11:30"},
		{"SkipsTheLunchBreak", "2026-06-01 11:00", 2 * time.Hour, "2026-06-01 14:00"},
		{"StartsAtOpeningWhenSubmittedBeforeHours", "2026-06-01 07:00", time.Hour, "2026-06-01 10:00"},
		{"EndsAtClosingRatherThanNextOpening", "2026-06-01 17:00", time.Hour, "2026-06-01 18:00"},
		{"CarriesOverTheWeekend", "2026-06-05 16:00", 4 * time.Hour, "2026-06-08 11:00"},
		{"SkipsHolidays", "2026-09-30 17:00", 2 * time.Hour, "2026-10-05 10:00"},
		{"WorksTheExtraDay", "2026-09-26 10:00", time.Hour, "2026-09-27 10:00"},
		{"ZeroIsTheStartEvenOffHours", "2026-06-06 03:00", 0, "2026-06-06 03:00"},
		{"SpansManyWeeks", "2026-06-01 09:00", 8 * 5 * 4 * time.Hour, "2026-06-26 18:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Add(at(t, c, tc.start), tc.d)
			require.NoError(t, err)
			require.True(t, at(t, c, tc.want).Equal(got), "got %s", got.In(c.Location()))
			require.Equal(t, tc.d, c.Between(at(t, c, tc.start), got))
		})
	}
}

func TestAddRefusesNegativeDuration(t *testing.T) {
	t.Parallel()
	c := shanghai(t)
	_, err := c.Add(time.Now(), -time.Minute)
	var ve *crm.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "duration", ve.Field)
}

func TestAddReportsNoWorkingTime(t *testing.T) {
	t.Parallel()
	spec := &calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}}
	for d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2028; d = d.AddDate(0, 0, 1) {
		if d.Weekday() == time.Monday {
			spec.Holidays = append(spec.Holidays, d.Format(time.DateOnly))
		}
	}
	c, err := calendar.New(spec)
	require.NoError(t, err)
	_, err = c.Add(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour)
	require.ErrorIs(t, err, calendar.ErrNoWorkingTime)
	require.ErrorIs(t, err, crm.ErrFailedPrecondition)
	_, err = c.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.ErrorIs(t, err, calendar.ErrNoWorkingTime)
}

func TestBetween(t *testing.T) {
	t.Parallel()
	c := shanghai(t)
	t.Run("CountsOnlyWorkingTime", func(t *testing.T) {
		require.Equal(t, 8*time.Hour, c.Between(at(t, c, "2026-06-01 00:00"), at(t, c, "2026-06-02 00:00")))
	})
	t.Run("IsNegativeWhenReversed", func(t *testing.T) {
		require.Equal(t, -8*time.Hour, c.Between(at(t, c, "2026-06-02 00:00"), at(t, c, "2026-06-01 00:00")))
	})
	t.Run("IsZeroOverAWeekend", func(t *testing.T) {
		require.Zero(t, c.Between(at(t, c, "2026-06-05 18:00"), at(t, c, "2026-06-08 09:00")))
	})
	t.Run("AcceptsInstantsInAnyZone", func(t *testing.T) {
		a := at(t, c, "2026-06-01 09:00").UTC()
		b := at(t, c, "2026-06-01 10:30").In(time.FixedZone("x", -7*3600))
		require.Equal(t, 90*time.Minute, c.Between(a, b))
	})
}

func TestIsOpenAndNext(t *testing.T) {
	t.Parallel()
	c := shanghai(t)
	require.True(t, c.IsOpen(at(t, c, "2026-06-01 09:00")))
	require.False(t, c.IsOpen(at(t, c, "2026-06-01 12:00")), "end is exclusive")
	require.False(t, c.IsOpen(at(t, c, "2026-10-01 10:00")), "holiday")
	require.True(t, c.IsOpen(at(t, c, "2026-09-27 10:00")), "extra working day")
	require.False(t, c.IsOpen(at(t, c, "2026-06-06 10:00")), "saturday")
	require.True(t, c.WorkingOn(at(t, c, "2026-09-27 00:00")))
	next, err := c.Next(at(t, c, "2026-06-05 18:30"))
	require.NoError(t, err)
	require.True(t, at(t, c, "2026-06-08 09:00").Equal(next))
	next, err = c.Next(at(t, c, "2026-06-08 10:15"))
	require.NoError(t, err)
	require.True(t, at(t, c, "2026-06-08 10:15").Equal(next))
}

func TestDaylightSaving(t *testing.T) {
	t.Parallel()
	allDay := []calendar.Span{{Start: "00:00", End: "24:00"}}
	c, err := calendar.New(&calendar.Spec{Name: "ny", TimeZone: "America/New_York", Week: map[string][]calendar.Span{
		"sunday": allDay, "monday": {{Start: "01:00", End: "04:00"}},
	}})
	require.NoError(t, err)
	t.Run("SpringForwardDayHasTwentyThreeHours", func(t *testing.T) {
		require.Equal(t, 23*time.Hour, c.Between(at(t, c, "2026-03-08 00:00"), at(t, c, "2026-03-09 00:00")))
	})
	t.Run("FallBackDayHasTwentyFiveHours", func(t *testing.T) {
		require.Equal(t, 25*time.Hour, c.Between(at(t, c, "2026-11-01 00:00"), at(t, c, "2026-11-02 00:00")))
	})
	t.Run("AddCountsElapsedTimeAcrossTheGap", func(t *testing.T) {
		got, err := c.Add(at(t, c, "2026-03-08 01:00"), 2*time.Hour)
		require.NoError(t, err)
		require.Equal(t, "2026-03-08T04:00:00-04:00", got.Format(time.RFC3339))
	})
}

func TestMidnightPeriods(t *testing.T) {
	t.Parallel()
	c, err := calendar.New(&calendar.Spec{Name: "night", TimeZone: "Europe/Berlin", Week: map[string][]calendar.Span{
		"monday":  {{Start: "22:00", End: "24:00"}},
		"tuesday": {{Start: "00:00", End: "06:00"}},
	}})
	require.NoError(t, err)
	got, err := c.Add(at(t, c, "2026-06-01 21:00"), 3*time.Hour)
	require.NoError(t, err)
	require.True(t, at(t, c, "2026-06-02 01:00").Equal(got))
	require.True(t, c.IsOpen(at(t, c, "2026-06-02 00:00")))
	require.Equal(t, 8*time.Hour, c.Between(at(t, c, "2026-06-01 00:00"), at(t, c, "2026-06-03 00:00")))
}

func TestValidation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		spec  calendar.Spec
		field string
	}{
		{"UnknownZone", calendar.Spec{Name: "x", TimeZone: "Mars/Olympus", Week: map[string][]calendar.Span{"monday": officeDay}}, "time_zone"},
		{"MissingZone", calendar.Spec{Name: "x", Week: map[string][]calendar.Span{"monday": officeDay}}, "time_zone"},
		{"MissingName", calendar.Spec{TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}}, "name"},
		{"OverlappingHours", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": {{Start: "13:00", End: "18:00"}, {Start: "09:00", End: "13:30"}}}}, "week.monday[0]"},
		{"EndBeforeStart", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": {{Start: "18:00", End: "09:00"}}}}, "week.monday[0].end"},
		{"BadClock", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": {{Start: "9:00", End: "12:00"}}}}, "week.monday[0].start"},
		{"PastMidnight", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": {{Start: "20:00", End: "24:30"}}}}, "week.monday[0].end"},
		{"UnknownWeekday", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"funday": officeDay, "monday": officeDay}}, "week.funday"},
		{"NoHoursAtAll", calendar.Spec{Name: "x", TimeZone: "UTC"}, "week"},
		{"BadHoliday", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}, Holidays: []string{"2026-02-30"}}, "holidays[0]"},
		{"RepeatedHoliday", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}, Holidays: []string{"2026-02-03", "2026-02-03"}}, "holidays[1]"},
		{"ExtraDayWithoutHours", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}, ExtraDays: []calendar.ExtraDay{{Date: "2026-02-07"}}}, "extra_days[0].hours"},
		{"ExtraDayLikeAnOffDay", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}, ExtraDays: []calendar.ExtraDay{{Date: "2026-02-07", Like: "sunday"}}}, "extra_days[0].like"},
		{"ExtraDayOnAHoliday", calendar.Spec{Name: "x", TimeZone: "UTC", Week: map[string][]calendar.Span{"monday": officeDay}, Holidays: []string{"2026-02-07"}, ExtraDays: []calendar.ExtraDay{{Date: "2026-02-07", Like: "monday"}}}, "extra_days[0].date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := calendar.New(&tc.spec)
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			var es crm.ValidationErrors
			require.True(t, errors.As(err, &es))
			require.Contains(t, es.Fields(), tc.field, err.Error())
		})
	}
	t.Run("NilSpecIsAnError", func(t *testing.T) {
		_, err := calendar.New(nil)
		require.ErrorIs(t, err, crm.ErrInvalidArgument)
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	c, err := calendar.Parse([]byte(`{"name":"cn","time_zone":"Asia/Shanghai","week":{"monday":[{"start":"09:00","end":"18:00"}]},"holidays":["2026-06-01"]}`))
	require.NoError(t, err)
	require.Equal(t, "cn", c.Name())
	require.False(t, c.WorkingOn(time.Date(2026, 6, 1, 12, 0, 0, 0, c.Location())))
	b, err := c.MarshalJSON()
	require.NoError(t, err)
	again, err := calendar.Parse(b)
	require.NoError(t, err)
	require.Equal(t, c.Spec(), again.Spec())

	_, err = calendar.Parse([]byte(`{"name":"cn","time_zone":"UTC","weeks":{}}`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument, "unknown keys are refused")
}

func TestMethodsDoNotAllocate(t *testing.T) {
	c := shanghai(t)
	start := at(t, c, "2026-06-05 16:00")
	end := at(t, c, "2026-06-12 10:00")
	allocs := testing.AllocsPerRun(100, func() {
		_, _ = c.Add(start, 30*time.Hour)
		_ = c.Between(start, end)
		_ = c.IsOpen(end)
		_, _ = c.Next(start)
	})
	require.Zero(t, allocs)
}

// FuzzAddThenBetween checks the defining property: the business time between
// start and Add(start, d) is d.
func FuzzAddThenBetween(f *testing.F) {
	zones := []string{"Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe"}
	cals := make([]*calendar.Calendar, len(zones))
	for i, z := range zones {
		c, err := calendar.New(&calendar.Spec{Name: z, TimeZone: z, Week: map[string][]calendar.Span{
			"monday":   officeDay,
			"tuesday":  {{Start: "00:00", End: "24:00"}},
			"thursday": {{Start: "01:30", End: "03:30"}, {Start: "22:00", End: "24:00"}},
			"friday":   {{Start: "00:00", End: "02:00"}},
			"sunday":   {{Start: "01:00", End: "04:00"}},
		}, Holidays: []string{"2026-03-09", "2026-11-02"}, ExtraDays: []calendar.ExtraDay{{Date: "2026-03-28", Like: "tuesday"}}})
		if err != nil {
			f.Fatal(err)
		}
		cals[i] = c
	}
	f.Add(uint8(0), int64(1780000000), int64(4*3600))
	f.Add(uint8(1), int64(1772928000), int64(26*3600))
	f.Add(uint8(2), int64(1774742400), int64(90*60))
	f.Add(uint8(3), int64(1775311200), int64(1))
	f.Add(uint8(1), int64(1793512800), int64(500*3600))
	f.Fuzz(func(t *testing.T, zone uint8, unix int64, secs int64) {
		c := cals[int(zone)%len(cals)]
		// Keep to a few years around now and durations up to ~1 year of work.
		start := time.Unix(1735689600+unix%(4*365*86400), unix%1e9)
		d := time.Duration(secs%(2000*3600)) * time.Second
		if d < 0 {
			d = -d
		}
		end, err := c.Add(start, d)
		require.NoError(t, err)
		require.False(t, end.Before(start))
		require.Equal(t, d, c.Between(start, end), "start %s end %s", start.In(c.Location()), end.In(c.Location()))
		if d > 0 {
			require.True(t, c.IsOpen(end.Add(-time.Nanosecond)), "the last counted instant is working time")
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	c := shanghai(b)
	start := time.Date(2026, 6, 5, 16, 0, 0, 0, c.Location())
	b.ReportAllocs()
	for b.Loop() {
		_, _ = c.Add(start, 4*time.Hour)
	}
}

func BenchmarkBetweenOneWeek(b *testing.B) {
	c := shanghai(b)
	start := time.Date(2026, 6, 5, 16, 0, 0, 0, c.Location())
	end := start.AddDate(0, 0, 7)
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Between(start, end)
	}
}

func BenchmarkIsOpen(b *testing.B) {
	c := shanghai(b)
	t := time.Date(2026, 6, 5, 16, 0, 0, 0, c.Location())
	b.ReportAllocs()
	for b.Loop() {
		_ = c.IsOpen(t)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"name":"cn","time_zone":"Asia/Shanghai","week":{"monday":[{"start":"09:00","end":"12:00"},{"start":"13:00","end":"18:00"}]},
		"holidays":["2026-10-01"],"extra_days":[{"date":"2026-09-27","like":"monday"}]}`))
	f.Add([]byte(`{"name":"night","time_zone":"UTC","week":{"friday":[{"start":"22:00","end":"24:00"}],"saturday":[{"start":"00:00","end":"06:00"}]}}`))
	f.Add([]byte(`{"name":"x","time_zone":"Asia/Shangai","week":{"monday":[{"start":"09:00","end":"12:00"},{"start":"11:00","end":"13:00"}]}}`))
	f.Add([]byte(`{"name":"x","time_zone":"UTC","week":{}} {"trailing":true}`))
	f.Add([]byte(`{"name":"x","time_zone":"UTC","week":{"funday":[{"start":"25:00","end":"09:00"}]},"holidays":["2026-02-30"]}`))
	start := time.Date(2026, 6, 1, 9, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := calendar.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, crm.ErrInvalidArgument)
			return
		}
		// A calendar that parses answers every question without a panic,
		// and business time added then measured comes back whole.
		_ = c.IsOpen(start)
		end, err := c.Add(start, 90*time.Minute)
		if err != nil {
			require.ErrorIs(t, err, calendar.ErrNoWorkingTime)
			return
		}
		require.Equal(t, 90*time.Minute, c.Between(start, end))
	})
}

func TestParseRefusesTrailingData(t *testing.T) {
	_, err := calendar.Parse([]byte(`{"name":"x","time_zone":"UTC","week":{"monday":[{"start":"09:00","end":"18:00"}]}} {}`))
	require.ErrorIs(t, err, crm.ErrInvalidArgument)
	require.Contains(t, err.Error(), "trailing data")
}
