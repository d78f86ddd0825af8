package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections"
)

// maxHeadLeaves bounds the leaves file (32 bytes a record): past it (no
// checkpoint for that long) it restarts with the newest half.
const maxHeadLeaves = integrity.MaxHeadLeaves

// maxLeavesFileBytes bounds what the start reads of a leaves file: its
// header and at most twice maxHeadLeaves hashes (a larger one is ignored,
// as a missing one is).
const maxLeavesFileBytes = integrity.MaxLeavesBytes

// Nonces of the head's signatures are prepared in batches (see
// ledgerkey.Presigner): the preparer is woken when fewer than nonceLow are
// ready and prepares up to nonceBatch, one wake-up for many heads instead
// of one per head.
const (
	nonceLow   = 8
	nonceBatch = 32
)

// headSweep is how often the background writer looks for applied events
// no head covers while acknowledged writes are writing the heads (one
// waited within the last headSweep): it stays off their path instead of
// waking, and taking the head, with every event they wait for. An event
// no head covered for a headSweep gets one from it all the same.
const headSweep = 10 * time.Millisecond

// errHeadStopped: the tree head is no longer kept (the projections
// stopped, or the ledger is closing).
var errHeadStopped = errors.New("service: the signed tree head is no longer kept")

// treeHead keeps the signed tree head outside the data dir: after the
// projections applied events (this ledger's appends or, on a cluster,
// any replica's), a checkpoint note of the whole stream signed with the
// ledger key, in the kept checkpoint's file (<data-dir>.checkpoint), and
// the leaf hashes of the records after the stream's last checkpoint
// beside it (<file>.leaves) that show which record changed. One writer,
// the latest applied sequence wins (a burst of events makes one head);
// the note is written over the old one in place (writeNote), the leaves
// file is appended to (rewritten, renamed, when a checkpoint moves its
// base). Neither is fsynced per event (see docs/decisions.md); close
// fsyncs the last head.
type treeHead struct {
	log    *slog.Logger
	runner *projections.Runner
	proj   *integrity.Log
	signer note.Signer
	// presigner, when set, is signer with nonces prepared off the path of
	// the waiters (see ledgerkey.Presigner): prepare asks the run loop's
	// preparer for the next one after each head.
	presigner *ledgerkey.Presigner
	prepare   chan struct{}
	file      string
	// started is set once the start-up check accepted the stream: no
	// head is written before.
	started atomic.Bool
	// epoch and lastWait (nanoseconds since epoch, monotonic) say when an
	// acknowledged write last waited for a head (WaitFor).
	epoch    time.Time
	lastWait atomic.Int64

	mu      sync.Mutex
	written uint64 // the size of the last head written
	err     error  // the last write's error, nil once one succeeds
	stopped bool
	changed chan struct{} // closed and replaced when written, err or stopped change

	// Owned by the writer (run, flush), under wmu.
	wmu           sync.Mutex
	note          *os.File // the head file, written in place
	noteLen       int      // the length of the note written last
	leaves        *os.File
	leavesBase    int64 // the leaves file holds records leavesBase+1 …
	leavesNext    int64 // … up to leavesNext-1
	leavesFailing bool  // the last leaves write failed (logged once)
	buf           []byte
	noteBuf       []byte // the signed note being written

	// served is the last head written: the newest signed checkpoint the
	// ledger serves (checkpoints.newest) when it covers more records than
	// the stream's last checkpoint event, as it does once that event is
	// applied.
	served atomic.Pointer[signedCheckpoint]
}

func newTreeHead(log *slog.Logger, runner *projections.Runner, proj *integrity.Log, key *ledgerkey.Key, file string) *treeHead {
	h := &treeHead{log: log, runner: runner, proj: proj, signer: key.Signer(), file: file, changed: make(chan struct{}),
		prepare: make(chan struct{}, 1), epoch: time.Now()}
	h.lastWait.Store(-int64(headSweep)) // no write has waited yet
	if p, err := key.Presigner(); err == nil {
		h.signer, h.presigner = p, p
	}
	return h
}

// prepared asks for more nonces, after a head, when few are left.
func (h *treeHead) prepared() {
	if h.presigner == nil || h.presigner.Ready() >= nonceLow {
		return
	}
	select {
	case h.prepare <- struct{}{}:
	default:
	}
}

// prepareNonces keeps nonces prepared for the heads' signatures, a batch
// whenever few are left, until ctx ends.
func (h *treeHead) prepareNonces(ctx context.Context) {
	if h.presigner == nil {
		return
	}
	for {
		if err := h.presigner.PrepareN(nonceBatch); err != nil {
			h.log.Warn("could not prepare the tree head's next signature", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-h.prepare:
		}
	}
}

// run writes a new head whenever the projections applied more events (the
// events no one waits for, another replica's, included), until ctx ends or
// the projections stop (a tampered stream is never signed). While
// acknowledged writes wait for heads, they write them (WaitFor) and run
// only sweeps every headSweep.
func (h *treeHead) run(ctx context.Context) error {
	defer h.stop()
	ctx, cancel := context.WithCancel(ctx)
	var preparer sync.WaitGroup
	preparer.Go(func() { h.prepareNonces(ctx) })
	defer preparer.Wait()
	defer cancel()
	sweep := time.NewTimer(headSweep)
	defer sweep.Stop()
	failing := false
	for {
		h.mu.Lock()
		next := h.written + 1
		h.mu.Unlock()
		if err := h.runner.WaitFor(ctx, next); err != nil {
			if errors.Is(err, projections.ErrStopped) {
				return nil
			}
			return err
		}
		if !failing && h.waitersActive() {
			seen := h.runner.LastApplied()
			sweep.Reset(headSweep)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sweep.C:
			}
			h.mu.Lock()
			covered := h.written >= seen
			h.mu.Unlock()
			if covered {
				continue // the waiters wrote it
			}
		}
		h.wmu.Lock()
		if !h.lead() {
			return nil // the projections stopped
		}
		h.mu.Lock()
		err := h.err
		h.mu.Unlock()
		if err != nil && !failing {
			h.log.Error("could not keep the signed tree head beside the data dir; acknowledged writes wait for it", "file", h.file, "err", err)
		} else if err == nil && failing {
			h.log.Info("the signed tree head is kept again", "file", h.file)
		}
		failing = err != nil
		if failing {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

// WaitFor blocks until a head covering seq is written, for an
// acknowledged write (seq is applied): an error when ctx ends first, when
// writing failed (the last attempt's error), or when heads are no longer
// written. When no head is being written, the caller writes the head of
// every event applied so far itself (group commit: one signature and one
// write cover every event applied since the last head, and release every
// waiter at or below it), so the answer does not wait for another
// goroutine to be scheduled; while one is being written, it waits for it.
func (h *treeHead) WaitFor(ctx context.Context, seq uint64) error {
	h.lastWait.Store(int64(time.Since(h.epoch)))
	for {
		h.mu.Lock()
		written, err, stopped, ch := h.written, h.err, h.stopped, h.changed
		h.mu.Unlock()
		switch {
		case written >= seq:
			return nil
		case err != nil:
			return fmt.Errorf("service: signed tree head of %d records: %w", seq, err)
		case stopped:
			return errHeadStopped
		}
		if h.started.Load() && h.runner.LastApplied() >= seq && h.wmu.TryLock() && h.lead() {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// waitersActive reports whether an acknowledged write waited for a head
// within the last headSweep.
func (h *treeHead) waitersActive() bool {
	return time.Since(h.epoch)-time.Duration(h.lastWait.Load()) < headSweep
}

// lead writes, under wmu (held, released here), the head of every event
// applied, unless one covers them already or heads are no longer written
// (the projections stopped): false when it wrote nothing.
func (h *treeHead) lead() bool {
	defer h.wmu.Unlock()
	h.mu.Lock()
	written, stopped := h.written, h.stopped
	h.mu.Unlock()
	n := h.runner.LastApplied()
	if stopped || n <= written || h.runner.Err() != nil {
		return n <= written
	}
	h.publish(n, h.writeLocked(n))
	h.prepared()
	return true
}

func (h *treeHead) publish(written uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil && written > h.written {
		h.written = written
	}
	h.err = err
	close(h.changed)
	h.changed = make(chan struct{})
}

func (h *treeHead) stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped = true
	close(h.changed)
	h.changed = make(chan struct{})
}

// write writes the head of the first n records: the leaves, then the
// signed note (so that the leaves reach as far as the note; when they
// cannot be written, the note all the same).
func (h *treeHead) write(n uint64) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	err := h.writeLocked(n)
	h.publish(n, err)
	h.prepared()
	return err
}

func (h *treeHead) writeLocked(n uint64) error {
	tree := h.proj.Tree()
	root, err := tree.Root(int64(n))
	if err != nil {
		return err
	}
	_, _, cp, _ := h.proj.LastCheckpoint()
	if err := h.writeLeaves(tree, cp.Size, int64(n)); err != nil {
		// The leaves only locate a change the note shows (leaves that do
		// not reach the note, or do not hash to its root, are not used):
		// a note without them still counts the acknowledged events.
		h.closeLeaves()
		if !h.leavesFailing {
			h.log.Error("could not keep the tree head's leaves; the head is kept without them", "file", h.file+integrity.LeavesSuffix, "err", err)
		}
		h.leavesFailing = true
	} else if h.leavesFailing {
		h.log.Info("the tree head's leaves are kept again", "file", h.file+integrity.LeavesSuffix)
		h.leavesFailing = false
	}
	head := integrity.Checkpoint{Origin: h.signer.Name(), Size: int64(n), Root: root}
	h.noteBuf, err = appendSignedHead(h.noteBuf[:0], head, h.signer)
	if err != nil {
		return err
	}
	if err := h.writeNote(h.noteBuf); err != nil {
		return err
	}
	h.served.Store(&signedCheckpoint{cp: head, signed: bytes.Clone(h.noteBuf), at: time.Now()})
	return nil
}

// writeNote writes the signed note over the head file, in place: one
// write at offset 0 (see docs/decisions.md: a temporary file renamed over
// the head cost 250 µs of CPU a head on the VM, the write 2 µs). A note
// is never shorter than the one before it (the size only grows; the
// origin, root and signature keep their lengths), so the write replaces
// it whole; a process killed around it leaves the old note or the new
// one, and a note fits in one disk sector.
func (h *treeHead) writeNote(signed []byte) error {
	if h.note == nil {
		// Never through a link planted in the head's place (it would
		// overwrite the link's target), never into anything but a
		// regular file.
		f, err := openHeadFile(h.file)
		if err != nil {
			return err
		}
		h.note = f
	}
	if _, err := h.note.WriteAt(signed, 0); err != nil {
		h.closeNote()
		return err
	}
	if len(signed) < h.noteLen || h.noteLen == 0 {
		// The first write of this process (the file may hold a longer
		// note of another key), or a shorter note: cut what follows.
		if err := h.note.Truncate(int64(len(signed))); err != nil {
			h.closeNote()
			return err
		}
	}
	h.noteLen = len(signed)
	return nil
}

// openHeadFile opens the head file to be written in place: never through
// a link planted in its place (it would overwrite the link's target),
// never into anything but a regular file, and never into a file that has
// other names (a hard link to another file, say an older head an operator
// moved aside): such a name is replaced by a new file.
func openHeadFile(name string) (*os.File, error) {
	flags := os.O_CREATE | os.O_RDWR | syscall.O_NOFOLLOW | syscall.O_NONBLOCK
	for range 2 {
		f, err := os.OpenFile(name, flags, 0o644)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			_ = f.Close()
			return nil, fmt.Errorf("the tree head %s is not a regular file", name)
		}
		if sys, ok := st.Sys().(*syscall.Stat_t); !ok || sys.Nlink <= 1 {
			return f, nil
		}
		_ = f.Close()
		if err := os.Remove(name); err != nil {
			return nil, err
		}
		flags |= os.O_EXCL
	}
	return nil, fmt.Errorf("the tree head %s has other names", name)
}

func (h *treeHead) closeNote() {
	if h.note != nil {
		_ = h.note.Close()
		h.note, h.noteLen = nil, 0
	}
}

// writeLeaves brings the leaves file to records base+1 … n: appended to
// while its base stays, rewritten when the stream's last checkpoint moved
// past its base or it grew past maxHeadLeaves.
func (h *treeHead) writeLeaves(tree *integrity.Tree, base, n int64) error {
	if h.leaves != nil && base <= h.leavesBase && n-h.leavesBase <= maxHeadLeaves && h.leavesNext <= n+1 {
		h.buf = h.buf[:0]
		for s := h.leavesNext; s <= n; s++ {
			l, err := tree.LeafHash(uint64(s))
			if err != nil {
				return err
			}
			h.buf = integrity.AppendLeafBytes(h.buf, l)
		}
		if _, err := h.leaves.Write(h.buf); err != nil {
			h.closeLeaves()
			return err
		}
		h.leavesNext = n + 1
		return nil
	}
	h.closeLeaves()
	if n-base > maxHeadLeaves {
		base = n - maxHeadLeaves/2
	}
	h.buf = integrity.LeavesHeader(base)
	for s := base + 1; s <= n; s++ {
		l, err := tree.LeafHash(uint64(s))
		if err != nil {
			return err
		}
		h.buf = integrity.AppendLeafBytes(h.buf, l)
	}
	name := h.file + integrity.LeavesSuffix
	// A temporary file of a name no one could plant (created exclusively,
	// never through a link), renamed over the leaves.
	f, err := os.CreateTemp(filepath.Dir(name), filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(h.buf); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	if err := os.Rename(f.Name(), name); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return err
	}
	h.leaves, h.leavesBase, h.leavesNext = f, base, n+1
	return nil
}

func (h *treeHead) closeLeaves() {
	if h.leaves != nil {
		_ = h.leaves.Close()
		h.leaves = nil
	}
}

// close writes the head of every event applied (the shutdown checkpoint
// included), fsyncs it and its leaves, and closes the leaves file.
func (h *treeHead) close() {
	h.mu.Lock()
	written := h.written
	h.mu.Unlock()
	if n := h.runner.LastApplied(); n > written && h.runner.Err() == nil {
		if err := h.write(n); err != nil {
			h.log.Error("could not keep the signed tree head at shutdown", "file", h.file, "err", err)
		}
	}
	h.wmu.Lock()
	defer h.wmu.Unlock()
	if h.leaves != nil {
		_ = h.leaves.Sync()
		h.closeLeaves()
	}
	if h.note != nil {
		_ = h.note.Sync()
		h.closeNote()
	}
	if d, err := os.Open(filepath.Dir(h.file)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}

// checkHeadFile checks the stream (the integrity projection's tree) against
// the signed tree head kept in file, opened with keys; proven is the size
// the stream's last checkpoint proved. The leaves beside it name the first
// record that differs; nil when the stream extends the head or there is
// no head.
func checkHeadFile(tree *integrity.Tree, file string, keys note.Verifiers, proven int64) error {
	b, err := readBesideFile(file, maxKeptCheckpointBytes)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(b) == 0) {
		// An empty head is a missing one: the file is created by a
		// process's first head and fsynced only at close, so a power
		// loss can leave it empty (and anyone who could empty it could
		// remove it).
		return nil
	}
	if err != nil {
		return fmt.Errorf("kept tree head %s: %w", file, err)
	}
	head, err := integrity.OpenCheckpoint(b, keys)
	if err != nil {
		return fmt.Errorf("kept tree head %s: %w", file, err)
	}
	var leaves *integrity.TailLeaves
	if lb, err := readBesideFile(file+integrity.LeavesSuffix, maxLeavesFileBytes); err == nil {
		if l, err := integrity.ParseLeaves(lb); err == nil {
			leaves = &l
		}
	}
	f := integrity.CheckHead(tree, head, leaves, proven, "the tree head kept in "+file)
	if f == nil {
		return nil
	}
	return fmt.Errorf("%w: %s at sequence %d: %s (run tokenledger verify; restore the data dir from a backup)", integrity.ErrTampered, f.Kind, f.Seq, f.Detail)
}

// startTreeHead starts keeping the signed tree head, once the start-up
// check found the stream extends the kept one.
func (m *Main) startTreeHead(ctx context.Context) {
	if h := m.checkpoints.head; h != nil {
		removeLeavesTemps(h.log, h.file)
		h.started.Store(true)
		// The head of the events replayed, before the routes serve a
		// checkpoint: the one kept beside the data dir reaches the
		// stream's last checkpoint event, which that checkpoint does not
		// sign; an auditor who kept it is answered with a checkpoint at
		// least as new. A failed write is the run loop's to retry.
		h.wmu.Lock()
		h.lead()
		m.goRun("tree-head", func() error { return h.run(ctx) })
	}
}

// removeLeavesTemps removes the temporary leaves files a process killed
// while rewriting the leaves left beside the head (the names writeLeaves
// gives them: <file>.leaves.tmp-<digits>, regular files only).
func removeLeavesTemps(log *slog.Logger, file string) {
	prefix := filepath.Base(file) + integrity.LeavesSuffix + ".tmp-"
	entries, err := os.ReadDir(filepath.Dir(file))
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		name := filepath.Join(filepath.Dir(file), e.Name())
		if err := os.Remove(name); err != nil {
			log.Warn("could not remove a leftover temporary leaves file", "file", name, "err", err)
		}
	}
}

// waitTreeHead is what an acknowledged write waits for after the
// projections applied it: the signed tree head covering it (nil at once
// without one: no data dir of ours).
func (m *Main) waitTreeHead(ctx context.Context, seq uint64) error {
	if m.checkpoints == nil || m.checkpoints.head == nil {
		return nil
	}
	return m.checkpoints.head.WaitFor(ctx, seq)
}

// closeTreeHead writes the head of every stored event (the shutdown
// checkpoint included) and fsyncs it, on Close.
func (m *Main) closeTreeHead() {
	if m.checkpoints == nil || m.checkpoints.head == nil || !m.checkpoints.head.started.Load() ||
		m.Runner == nil || m.Store == nil || m.Runner.Err() != nil {
		return // never sign a stream the start-up check did not accept
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if last, err := m.Store.LastSequence(ctx); err == nil {
		_ = m.Runner.WaitFor(ctx, last)
	}
	m.checkpoints.head.close()
}
