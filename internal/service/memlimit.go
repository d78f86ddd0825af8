package service

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Memory limit (--memory-limit): the Go runtime's soft limit on the
// memory it holds (heap, stacks, runtime metadata; not the executable's
// mapped code), runtime/debug.SetMemoryLimit. Near the limit the garbage
// collector runs more often than GOGC asks and the scavenger hands freed
// pages back to the OS at once instead of a little at a time.
//
// The default ("auto") follows the container: 90 % of the cgroup's memory
// limit, the rest left to what the runtime does not count (the code's
// pages, the kernel's per-process memory), as services sized by their
// container commonly do. Without a cgroup limit there is no soft limit:
// a fixed default would either never matter or, once the ledger's live
// heap (~1.2 KB a token at 100,000 tokens) reaches it, make the collector
// run without pause (the runtime caps that at about half the CPU). A
// GOMEMLIMIT in the environment is honoured as "auto"'s answer.
const (
	// MemoryLimitAuto is Config.MemoryLimit's default: see above.
	MemoryLimitAuto int64 = 0
	// MemoryLimitOff sets no soft limit, GOMEMLIMIT notwithstanding.
	MemoryLimitOff int64 = -1
	// memoryLimitShare is the part of a cgroup's limit "auto" sets.
	memoryLimitShare = 0.9
)

// cgroupRoot is where the process's cgroup file system is mounted.
const cgroupRoot = "/sys/fs/cgroup"

// parseMemoryLimit reads "auto", "off" or a size as GOMEMLIMIT writes it:
// an integer with an optional unit B, KiB, MiB, GiB or TiB.
func parseMemoryLimit(v string) (int64, error) {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "auto":
		return MemoryLimitAuto, nil
	case "off":
		return MemoryLimitOff, nil
	}
	num, mult := v, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}, {"B", 1}} {
		if n, ok := strings.CutSuffix(v, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not auto, off or a size such as 512MiB or 2GiB", v)
	}
	return n * mult, nil
}

// cgroupMemoryLimit is the memory limit of the cgroup mounted at root
// (cgroup v2's memory.max, else v1's memory/memory.limit_in_bytes), false
// when there is none or it is unlimited.
func cgroupMemoryLimit(root string) (int64, bool) {
	for _, f := range []string{"memory.max", filepath.Join("memory", "memory.limit_in_bytes")} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		// "max" (v2) and v1's page-rounded MaxInt64 mean no limit.
		if err != nil || n <= 0 || n >= math.MaxInt64/2 {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// memoryLimitFor is the soft limit to set for the configured value (0:
// leave the runtime's as it is) and where it came from, for the log.
func memoryLimitFor(configured int64, getenv func(string) string, root string) (limit int64, source string) {
	switch {
	case configured > 0:
		return configured, "--memory-limit"
	case configured == MemoryLimitOff:
		return math.MaxInt64, "--memory-limit off"
	case getenv("GOMEMLIMIT") != "":
		return 0, "GOMEMLIMIT"
	}
	if n, ok := cgroupMemoryLimit(root); ok {
		return int64(float64(n) * memoryLimitShare), "90% of the cgroup's memory limit"
	}
	return 0, "none (no cgroup memory limit)"
}

// applyMemoryLimit sets the process's soft memory limit from cfg and
// returns it (math.MaxInt64: none) and where it came from.
func applyMemoryLimit(cfg Config) (int64, string) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	limit, source := memoryLimitFor(cfg.MemoryLimit, getenv, cgroupRoot)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return debug.SetMemoryLimit(-1), source
}
