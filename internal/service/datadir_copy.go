package service

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// copyVerifiedDataDir copies the data dir src to dst (which must not exist) for
// ReadDataDir: directories and regular files only (a link, pipe or device
// is refused, as os.CopyFS does), each file with its holes kept. A data
// dir handed to an auditor may hold a sparse file of any size that takes
// no disk: written out, it would fill the auditor's.
func copyVerifiedDataDir(dst, src string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case d.Type().IsRegular():
			return copySparse(target, path)
		default:
			return &fs.PathError{Op: "copy", Path: path, Err: fmt.Errorf("%w: not a regular file or directory", fs.ErrInvalid)}
		}
	})
}

// Whence values of lseek(2) for data and holes (Linux, the BSDs, Solaris).
const (
	seekData = 3
	seekHole = 4
)

// copySparse copies the regular file src to dst, the data only: the holes
// of src stay holes (where the system reports them; elsewhere it copies
// every byte).
func copySparse(dst, src string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NONBLOCK, 0) // swapped for a pipe since the walk: no hang
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return &fs.PathError{Op: "copy", Path: src, Err: fmt.Errorf("%w: not a regular file", fs.ErrInvalid)}
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	size := st.Size()
	if err := copyData(out, in, size); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Truncate(size); err != nil { // a hole at the end
		out.Close()
		return err
	}
	return out.Close()
}

// copyData copies the data segments of in's first size bytes to the same
// offsets of out.
func copyData(out, in *os.File, size int64) error {
	for off := int64(0); off < size; {
		data, err := in.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil // only a hole from off on
		}
		if err != nil { // holes not reported here: every byte
			_, err = io.Copy(io.NewOffsetWriter(out, off), io.NewSectionReader(in, off, size-off))
			return err
		}
		hole, err := in.Seek(data, seekHole)
		if err != nil {
			hole = size
		}
		hole = min(hole, size)
		if data >= hole {
			return nil
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, data), io.NewSectionReader(in, data, hole-data)); err != nil {
			return err
		}
		off = hole
	}
	return nil
}
