package catchupgc

import (
	"math"
	"runtime/debug"
	"testing"
)

// settings is the collector's GOGC and memory limit, read without change.
func settings() (int, int64) {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p, debug.SetMemoryLimit(-1)
}

func TestRelaxRaisesGOGCUnderABoundAndRestoresWhatWasThere(t *testing.T) {
	t.Setenv("GOGC", "") // Relax reads it; unset for the test
	for _, tc := range []struct {
		name    string
		percent int
		limit   int64
		// wantPercent and wantLimit are the settings during the catch-up
		// (0 limit: half the machine's memory).
		wantPercent int
		wantLimit   int64
	}{
		{"default_without_a_limit", 100, math.MaxInt64, Percent, 0},
		{"default_under_a_limit", 100, 1 << 30, Percent, 1 << 30},
		{"already_higher", 500, math.MaxInt64, 500, math.MaxInt64},
		{"collector_off", -1, 1 << 30, -1, 1 << 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p0, l0 := settings()
			defer func() { debug.SetGCPercent(p0); debug.SetMemoryLimit(l0) }()
			debug.SetGCPercent(tc.percent)
			debug.SetMemoryLimit(tc.limit)

			restore := Relax()
			second := Relax() // a concurrent catch-up shares the setting
			p, l := settings()
			wantLimit := tc.wantLimit
			if wantLimit == 0 {
				total, ok := physicalMemory()
				if !ok {
					t.Skip("the machine's memory cannot be read here")
				}
				wantLimit = int64(float64(total) * memoryShare)
			}
			if p != tc.wantPercent || l != wantLimit {
				t.Errorf("during the catch-up: GOGC %d, limit %d; want %d, %d", p, l, tc.wantPercent, wantLimit)
			}
			restore()
			restore() // twice: nothing more
			if p, l := settings(); p != tc.wantPercent || l != wantLimit {
				t.Errorf("after the first of two catch-ups ended: GOGC %d, limit %d; want still %d, %d", p, l, tc.wantPercent, wantLimit)
			}
			second()
			if p, l := settings(); p != tc.percent || l != tc.limit {
				t.Errorf("after both ended: GOGC %d, limit %d; want %d, %d back", p, l, tc.percent, tc.limit)
			}
		})
	}
}

func TestRelaxLeavesAGOGCOfTheEnvironmentAlone(t *testing.T) {
	t.Setenv("GOGC", "100")
	p0, l0 := settings()
	restore := Relax()
	if p, l := settings(); p != p0 || l != l0 {
		t.Errorf("GOGC in the environment: Relax changed GOGC %d→%d, limit %d→%d", p0, p, l0, l)
	}
	restore()
}
