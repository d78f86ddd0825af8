// Package catchupgc trades memory for CPU while a ledger catches up.
//
// A replay of the stream at start allocates about 2.5 KB an event (NATS's
// copy of each message and its headers, the decoded envelope) against a
// live heap that the embedded nats-server's per-subject state and the
// projections make large: at a million events, ~450 MB live, and at the
// default GOGC=100 a collection every ~450 MB allocated, each marking the
// whole live heap with write barriers on. Measured at a million events,
// GOGC=300 cut the CPU of a checkpoint-covered replay by ~9 % (12.7 to
// 11.6 µs an event, 3 interleaved pairs) and that of a raw JetStream read
// by ~17 %.
//
// Relax raises GOGC for the catch-up and gives the old setting back when
// it ends. The heap may then grow to ~4× the live heap instead of ~2×, so
// Relax bounds it: under the memory limit in force (--memory-limit,
// GOMEMLIMIT, a container's), else under a soft limit of half the
// machine's memory for the catch-up only, near which the collector runs
// as often as needed (the runtime caps its CPU at about half). A GOGC in
// the environment is the operator's choice and is left alone.
package catchupgc

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// Percent is the GOGC a catch-up runs at.
const Percent = 300

// memoryShare is the part of the machine's memory a catch-up's temporary
// soft limit allows, where no limit is in force.
const memoryShare = 0.5

var (
	mu         sync.Mutex
	relaxed    int   // catch-ups running under Relax's setting
	oldPercent int   // GOGC before the first of them
	oldLimit   int64 // the memory limit before it
	setLimit   int64 // the memory limit Relax put in force
)

// Relax raises GOGC to Percent until the returned function is called
// (once; later calls do nothing). Concurrent catch-ups share the raised
// setting; the last one to end restores what was there before the first,
// unless it was changed meanwhile (then the change stays).
// It does nothing when GOGC is set in the environment, when the collector
// already runs at Percent or above (or is off), or when no memory limit is
// in force and the machine's memory cannot be read.
func Relax() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	mu.Lock()
	defer mu.Unlock()
	if relaxed == 0 {
		cur := debug.SetGCPercent(Percent)
		limit := debug.SetMemoryLimit(-1)
		bounded := limit != math.MaxInt64
		if !bounded {
			if total, ok := physicalMemory(); ok {
				debug.SetMemoryLimit(int64(float64(total) * memoryShare))
				bounded = true
			}
		}
		if cur < 0 || cur >= Percent || !bounded {
			debug.SetGCPercent(cur)
			debug.SetMemoryLimit(limit)
			return func() {}
		}
		oldPercent, oldLimit = cur, limit
		setLimit = debug.SetMemoryLimit(-1)
	}
	relaxed++
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			if relaxed--; relaxed == 0 {
				// Only what Relax still holds goes back: a setting
				// changed during the catch-up (serve's GOGC once the
				// start is over, a memory limit) is whoever changed it's.
				if p := debug.SetGCPercent(oldPercent); p != Percent {
					debug.SetGCPercent(p)
				}
				if debug.SetMemoryLimit(-1) == setLimit {
					debug.SetMemoryLimit(oldLimit)
				}
			}
		})
	}
}
