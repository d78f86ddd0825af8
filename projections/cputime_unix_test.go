//go:build unix

package projections_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time this process used so far (user and system, all
// threads): benchmarks report it per event, a figure the machine's load
// changes far less than the wall-clock rate.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
