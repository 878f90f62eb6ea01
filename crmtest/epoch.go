package crmtest

import "time"

// epoch is the default time of factory records that need one: a Monday
// morning, so business-hours tests start inside working time.
var epoch = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Epoch returns the default time factories use (2026-01-05 09:00 UTC, a
// Monday).
func Epoch() time.Time { return epoch }
