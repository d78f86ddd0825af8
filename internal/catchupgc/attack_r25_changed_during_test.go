package catchupgc

import (
	"runtime/debug"
	"testing"
)

// Relax restores, when the last catch-up ends, the settings it found when
// the first began. Something else may set them in between: "tokenledger
// serve" sets its serving GOGC (50) once the start is over (Serve's
// caughtUp, cmd/tokenledger), which can fall inside a catch-up still
// running (the whole-log check's diagnosis replay of the stream from its
// first event begins during the start, and the service serves before it
// ends). Found (atk-r25): its end put back the GOGC from before (the
// start's 100) for the rest of the process's life; likewise a memory limit
// set meanwhile was replaced by the old one. Relax must give back only
// what it still holds: a setting someone changed after it is theirs.
func TestASettingChangedDuringACatchUpIsKeptAtItsEnd(t *testing.T) {
	t.Setenv("GOGC", "") // Relax reads it; unset for the test
	p0, l0 := settings()
	defer func() { debug.SetGCPercent(p0); debug.SetMemoryLimit(l0) }()

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(1 << 30)
	end := Relax()
	if p, _ := settings(); p != Percent {
		t.Fatalf("during the catch-up GOGC = %d, want %d", p, Percent)
	}
	debug.SetGCPercent(50) // the serving target, set as the start ends
	end()
	if p, l := settings(); p != 50 || l != 1<<30 {
		t.Errorf("after the catch-up: GOGC %d, limit %d; want the 50 set during it and the limit %d", p, l, 1<<30)
	}

	end = Relax()
	debug.SetMemoryLimit(2 << 30) // a limit set during the catch-up
	end()
	if p, l := settings(); p != 50 || l != 2<<30 {
		t.Errorf("after the catch-up: GOGC %d, limit %d; want 50 and the limit %d set during it", p, l, 2<<30)
	}

	// Settings left alone during the catch-up are restored as before.
	end = Relax()
	end()
	if p, l := settings(); p != 50 || l != 2<<30 {
		t.Errorf("after an undisturbed catch-up: GOGC %d, limit %d; want 50, %d", p, l, 2<<30)
	}
}
