package projections_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"testing"
)

// profiled runs fn, the case name of a benchmark, with a CPU profile, an
// execution trace (unless TOKENLEDGER_BENCH_TRACE=off) and an allocation
// profile of that case alone written to
// the directory TOKENLEDGER_BENCH_PROFILE names (name.cpu, name.trace,
// name.allocs, and name.allocs0 before the case: pprof -diff_base), leaving out what the benchmark does before (filling the
// stream: at a million signed events, most of go test's -cpuprofile).
// Without the variable it only runs fn.
func profiled(b *testing.B, name string, fn func()) {
	dir := os.Getenv("TOKENLEDGER_BENCH_PROFILE")
	if dir == "" {
		fn()
		return
	}
	create := func(ext string) *os.File {
		f, err := os.Create(filepath.Join(dir, name+"."+ext))
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	before := create("allocs0")
	defer before.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(before, 0); err != nil {
		b.Fatal(err)
	}
	cpu := create("cpu")
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		b.Fatal(err)
	}
	// The execution trace costs a fifth of the CPU or more: off when
	// TOKENLEDGER_BENCH_TRACE is "off", for a profile of the work alone.
	tracing := os.Getenv("TOKENLEDGER_BENCH_TRACE") != "off"
	if tracing {
		tr := create("trace")
		defer tr.Close()
		if err := trace.Start(tr); err != nil {
			b.Fatal(err)
		}
	}
	fn()
	if tracing {
		trace.Stop()
	}
	pprof.StopCPUProfile()
	allocs := create("allocs")
	defer allocs.Close()
	runtime.GC()
	if err := pprof.Lookup("allocs").WriteTo(allocs, 0); err != nil {
		b.Fatal(err)
	}
}

// benchCaseWanted reports whether the case name runs: all do unless
// TOKENLEDGER_BENCH_CASES holds a regular expression it does not match.
func benchCaseWanted(b *testing.B, name string) bool {
	expr := os.Getenv("TOKENLEDGER_BENCH_CASES")
	if expr == "" {
		return true
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		b.Fatalf("TOKENLEDGER_BENCH_CASES: %v", err)
	}
	return re.MatchString(name)
}
