//go:build !linux

package catchupgc

// physicalMemory is not read outside Linux: Relax then raises GOGC only
// under a memory limit in force.
func physicalMemory() (uint64, bool) { return 0, false }
