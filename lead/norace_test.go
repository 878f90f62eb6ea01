//go:build !race

package lead_test

// raceEnabled reports that the tests run under the race detector, which
// makes training about ten times slower.
const raceEnabled = false
