package integrity

import (
	"fmt"
	"io"
	"os"
	"syscall"
)

// Bounds of the files a ledger keeps beside its data dir, as its start and
// `tokenledger verify` read them: a signed checkpoint or tree head (a note
// of a few hundred bytes), and a leaves file (a header and at most
// MaxHeadLeaves*2 hashes of 32 bytes).
const (
	MaxHeadLeaves  = 1 << 16
	MaxNoteBytes   = 64 << 10
	MaxLeavesBytes = 4<<10 + 2*MaxHeadLeaves*32
)

// ReadKeptFile reads path, a file kept beside a data dir that whoever can
// write the dir's parent may have replaced: it must be a regular file (a
// link to one is followed) of at most max bytes. It opens without
// blocking, so that a named pipe in its place does not hang the reader,
// and checks the size before it allocates anything (a device or a huge
// sparse file is refused). A missing file is fs.ErrNotExist.
func ReadKeptFile(path string, max int64) ([]byte, error) {
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
	// One buffer of the size the file has (and a byte more, to see it
	// grow), not ReadAll's doublings: a snapshot is hundreds of MB.
	b := make([]byte, 0, st.Size()+1)
	for int64(len(b)) <= max {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := f.Read(b[len(b):min(cap(b), int(max+1))])
		b = b[:len(b)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s grew past %d bytes while read", path, max)
	}
	return b, nil
}
