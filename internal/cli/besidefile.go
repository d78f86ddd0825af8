package cli

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Bounds of the files the ledger keeps beside a data dir, as its start
// reads them: the signed tree head (a note) and its leaves file (a header
// and at most 2<<16 hashes of 32 bytes).
const (
	maxKeptHeadBytes   = 64 << 10
	maxKeptLeavesBytes = 4<<10 + 2*(1<<16)*32
)

// readBesideFile reads a file kept beside a data dir that someone with
// write access there may have replaced: only a regular file (a named pipe
// would block the read, a device never end), of at most max bytes.
func readBesideFile(path string, max int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("cli: %s is not a regular file (%s)", path, st.Mode().Type())
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("cli: read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("cli: %s holds more than the %d bytes it can", path, max)
	}
	return b, nil
}
