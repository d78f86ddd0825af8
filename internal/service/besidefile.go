package service

import (
	"os"
	"path/filepath"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// The files the ledger keeps beside its data dir (the projection snapshot,
// the latest signed checkpoint) sit where whoever can write the data dir's
// parent can plant anything: a link, a named pipe, a huge sparse file.
// They are read and written only through these two functions.

// maxKeptCheckpointBytes bounds the kept checkpoint (a signed note of a few
// hundred bytes).
const maxKeptCheckpointBytes = integrity.MaxNoteBytes

// readBesideFile is integrity.ReadKeptFile: a regular file of at most max
// bytes, read without blocking.
func readBesideFile(path string, max int64) ([]byte, error) { return integrity.ReadKeptFile(path, max) }

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
