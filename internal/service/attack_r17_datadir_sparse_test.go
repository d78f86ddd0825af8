package service_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// allocatedUnder is the disk space the files under dir take.
func allocatedUnder(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			var st syscall.Stat_t
			if syscall.Lstat(path, &st) == nil {
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

// verify --data-dir reads a copy of the data dir, never the dir itself.
// A data dir handed to an auditor can hold a sparse file: a size of
// hundreds of GB that takes no disk. The copy wrote every byte of it (a
// 1 TiB file fills the auditor's disk before verify says anything). The
// copy must take no more room than the data dir does.
func TestVerifyDataDirCopiesASparseFileWithoutFillingTheDisk(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	dir := s.Config.DataDir
	const apparent = 512 << 20
	f, err := os.Create(filepath.Join(dir, "jetstream", "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(apparent); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	own := allocatedUnder(dir)

	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var peak atomic.Int64
	stop := make(chan struct{})
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			peak.Store(max(peak.Load(), allocatedUnder(tmp)))
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	code, out, errOut := verifyDataDirText(t, dir)
	close(stop)
	<-polled
	if code == cli.ExitOK {
		t.Logf("verify: %s", out)
	}
	if p := peak.Load(); p > own+64<<20 {
		t.Errorf("verify's copy of a data dir taking %d MB took %d MB of disk (a sparse file of %d MB written out): exit %d %s %s",
			own>>20, p>>20, apparent>>20, code, out, errOut)
	}
}
