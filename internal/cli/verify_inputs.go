package cli

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// openInput opens a file verify reads (a bundle, a kept checkpoint, a
// key): without blocking in the open, so that a named pipe without a
// writer (a tar archive can hold one under a bundle's name) reads as
// empty instead of hanging verify; a pipe with a writer (a process
// substitution, <(…)) is read as it comes.
func openInput(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}

// readInput reads path, which must hold at most max bytes: no more is
// read (a link to /dev/zero, an endless stream or a huge file costs max).
func readInput(path string, max int64) ([]byte, error) {
	f, err := openInput(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s holds more than the %d bytes it may", path, max)
	}
	return b, nil
}
