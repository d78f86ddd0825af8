//go:build !race

package events_test

// raceEnabled: see race_on_test.go.
const raceEnabled = false
