// Package calendar does business-hours arithmetic: working periods per
// weekday in a time zone, public holidays and extra working days (调休), and
// the questions SLA timers, routing availability and approval timeouts ask —
// is this instant within working time ([Calendar.IsOpen]), when does a
// business duration end ([Calendar.Add]), and how much business time lies
// between two instants ([Calendar.Between]).
//
// # Defining a calendar
//
// A [Spec] is plain data, usually stored as JSON:
//
//	{"name": "cn-sales", "time_zone": "Asia/Shanghai",
//	 "week": {"monday": [{"start": "09:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}], ...},
//	 "holidays": ["2026-10-01", "2026-10-02"],
//	 "extra_days": [{"date": "2026-09-27", "like": "monday"}]}
//
// [New] and [Parse] validate it and report every problem at once as
// [crm.ValidationErrors] naming the field: an unknown time zone
// ("time_zone"), a period that ends before it starts or overlaps another
// ("week.monday[1]"), a malformed holiday ("holidays[0]"). Zones come from
// the operating system's zone database; hosts that run without one import
// time/tzdata in their main package.
//
// # Time zones and daylight saving
//
// Working periods are local wall-clock times. Business time is elapsed time
// inside them, so on the day clocks spring forward a period from 01:00 to
// 04:00 lasts two hours. Periods may end at 24:00 and a night shift is two
// periods ("22:00"-"24:00" and "00:00"-"06:00" of the next weekday).
//
// # Cost
//
// A [Calendar] is immutable and safe for concurrent use. Its methods do not
// allocate; Add and Between cost grows with the number of calendar days they
// walk.
package calendar
