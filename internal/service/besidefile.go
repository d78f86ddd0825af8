package service

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The files the ledger keeps beside its data dir (the projection snapshot,
// the latest signed checkpoint) sit where whoever can write the data dir's
// parent can plant anything: a link, a named pipe, a huge sparse file.
// They are read and written only through these two functions.

// maxKeptCheckpointBytes bounds the kept checkpoint (a signed note of a few
// hundred bytes).
const maxKeptCheckpointBytes = 64 << 10

// readBesideFile reads path, which must be a regular file (a link to one
// is followed) of at most max bytes. It opens without blocking, so that a
// named pipe in its place does not hang the start, and checks the size
// before it allocates anything. A missing file is fs.ErrNotExist.
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
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, st.Mode().Type())
	}
	if st.Size() > max {
		return nil, fmt.Errorf("%s holds %d bytes, more than the %d it can", path, st.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while read", path, max)
	}
	return b, nil
}

// writeBesideFile replaces file with b: a new file of a name no one could
// plant (created exclusively, never through a link), synced, given perm,
// and renamed over file, so that a crash leaves the old content or the
// new one.
func writeBesideFile(file string, b []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(file), filepath.Base(file)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	err = func() error {
		if _, err := f.Write(b); err != nil {
			return err
		}
		if err := f.Chmod(perm); err != nil {
			return err
		}
		return f.Sync()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}
