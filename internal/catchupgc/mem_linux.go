package catchupgc

import "syscall"

// physicalMemory is the machine's memory in bytes.
func physicalMemory() (uint64, bool) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil || si.Totalram == 0 {
		return 0, false
	}
	return uint64(si.Totalram) * uint64(si.Unit), true
}
