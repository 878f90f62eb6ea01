package calendar_test

import (
	"fmt"
	"time"

	"github.com/crmkit/crmkit/workflow/calendar"
)

// A support team in Shanghai answers within 4 business hours. A ticket
// raised late on the Wednesday before the National Day holidays is due after
// them; the Saturday worked in exchange (调休) counts as a working day.
func Example() {
	cal, err := calendar.Parse([]byte(`{
		"name": "cn-support",
		"time_zone": "Asia/Shanghai",
		"week": {
			"monday":    [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
			"tuesday":   [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
			"wednesday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
			"thursday":  [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}],
			"friday":    [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
		},
		"holidays": ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07", "2026-10-08"],
		"extra_days": [{"date": "2026-10-10", "like": "monday"}]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	raised := time.Date(2026, 9, 30, 16, 30, 0, 0, cal.Location())
	due, err := cal.Add(raised, 4*time.Hour)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("due:", due.Format("Mon 2006-01-02 15:04"))
	fmt.Println("open at 10:00 on Oct 1:", cal.IsOpen(time.Date(2026, 10, 1, 10, 0, 0, 0, cal.Location())))
	fmt.Println("business time until due:", cal.Between(raised, due))
	// Output:
	// due: Fri 2026-10-09 11:30
	// open at 10:00 on Oct 1: false
	// business time until due: 4h0m0s
}

// Bad calendars are refused with every problem named.
func ExampleNew_validation() {
	_, err := calendar.New(&calendar.Spec{
		Name:     "broken",
		TimeZone: "Asia/Shangai",
		Week: map[string][]calendar.Span{
			"monday": {{Start: "09:00", End: "13:00"}, {Start: "12:00", End: "18:00"}},
		},
	})
	fmt.Println(err)
	// Output:
	// invalid time_zone: unknown time zone "Asia/Shangai"; invalid week.monday[1]: overlaps week.monday[0]
}
