//go:build race

package events_test

// raceEnabled: the race detector drops sync.Pool items at random, so
// allocation counts are not the code's.
const raceEnabled = true
