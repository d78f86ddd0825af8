package service

import (
	"math"
	"runtime/debug"
	"testing"
)

// GOMEMLIMIT=off is the Go runtime's own way to say "no soft memory
// limit", and "auto" (the default --memory-limit) honours a GOMEMLIMIT in
// the environment as its answer (memlimit.go), as --memory-limit off is
// honoured by the catch-up (catchUpGC: no change). Found (atk-r25): the
// catch-up's collector setting could not tell GOMEMLIMIT=off from no
// setting at all (the runtime's limit is math.MaxInt64 either way) and put
// a soft limit of half the machine's memory in force for the catch-up:
// the operator's explicit "off" overridden, and a ledger whose live heap
// is past half the machine's memory replays with the collector running
// without pause, which the operator had asked not to happen.
func TestACatchUpKeepsGOMEMLIMITOffUnbounded(t *testing.T) {
	t.Setenv("GOGC", "") // catchupgc leaves a GOGC of the environment alone; unset here
	p0 := debug.SetGCPercent(100)
	l0 := debug.SetMemoryLimit(math.MaxInt64) // what GOMEMLIMIT=off leaves in force
	defer func() { debug.SetGCPercent(p0); debug.SetMemoryLimit(l0) }()

	env := map[string]string{"GOMEMLIMIT": "off"}
	cfg := Config{MemoryLimit: MemoryLimitAuto, Getenv: func(k string) string { return env[k] }}
	if limit, source := memoryLimitFor(cfg.MemoryLimit, cfg.Getenv, t.TempDir()); limit != 0 || source != "GOMEMLIMIT" {
		t.Fatalf("memoryLimitFor = %d, %q; want the runtime's (GOMEMLIMIT)", limit, source)
	}
	m := &Main{Config: cfg}
	during := int64(math.MaxInt64)
	if relax := m.catchUpGC(); relax != nil {
		end := relax()
		during = debug.SetMemoryLimit(-1)
		end()
	}
	if during != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT=off the catch-up ran under a soft memory limit of %d bytes, want none", during)
	}
	if after := debug.SetMemoryLimit(-1); after != math.MaxInt64 {
		t.Errorf("after the catch-up the memory limit is %d, want none", after)
	}
}
