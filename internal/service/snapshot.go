package service

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Snapshot defaults (--snapshot-every, --snapshot-interval).
const (
	DefaultSnapshotEvery    = 100_000
	DefaultSnapshotInterval = 10 * time.Minute
)

// SnapshotOff as --snapshot-file turns snapshots off.
const SnapshotOff = "off"

// The snapshot file: snapshotMagic, the format version (uvarint), the
// body, then the CRC-32C of everything before it (4 bytes, big endian)
// and the HMAC-SHA-256 of everything before that (32 bytes) under a key
// derived from the ledger's signing key.
//
// The body: the signing key's ID, the stream sequence S the snapshot
// stands at, the hash (seal) of the event at S, the leaf hash of its
// stored bytes, the Merkle root of records 1..S, the key chain's state,
// then the sections (token set, directory, audit index, integrity tree),
// each length-prefixed.
const (
	snapshotMagic   = "tokenledger projection snapshot\n"
	snapshotFormat  = 2
	snapshotMACInfo = "projection-snapshot/v1"
	snapshotTrailer = 4 + sha256.Size
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

// snapshots writes the projections' snapshot file and reads it at start.
// A snapshot is a cache: it is checked against the stream before use and
// discarded (full replay) when anything does not match.
type snapshots struct {
	log      *slog.Logger
	file     string
	mac      []byte // HMAC key derived from the signing key
	keyID    string
	every    uint64
	interval time.Duration
	store    *jsstore.Store

	// What run and final snapshot, set by serve once the service caught
	// up (every event they cover was checked).
	runner  *projections.Runner
	ps      projectionSet
	chain   *ledgerkey.Chain
	serving atomic.Bool

	mu      sync.Mutex // one write at a time
	written uint64     // sequence of the last snapshot written or restored
	at      time.Time  // when
}

// snapshotFile is where the snapshot is kept: --snapshot-file, or
// <data-dir>.snapshot beside the embedded server's data dir; "" for none.
func (c Config) snapshotFile(embedded bool) string {
	switch {
	case c.SnapshotFile == SnapshotOff:
		return ""
	case c.SnapshotFile != "":
		return c.SnapshotFile
	case embedded:
		return filepath.Clean(c.DataDir) + ".snapshot"
	}
	return ""
}

// newSnapshots returns the snapshot keeper, nil when snapshots are off.
func (m *Main) newSnapshots() (*snapshots, error) {
	file := m.Config.snapshotFile(m.nats != nil)
	if file == "" {
		return nil, nil
	}
	mac, err := m.key.DeriveKey(snapshotMACInfo)
	if err != nil {
		return nil, err
	}
	every, interval := uint64(m.Config.SnapshotEvery), m.Config.SnapshotInterval
	if every == 0 {
		every = DefaultSnapshotEvery
	}
	if interval <= 0 {
		interval = DefaultSnapshotInterval
	}
	return &snapshots{log: m.log, file: file, mac: mac, keyID: m.key.ID(), every: every, interval: interval,
		store: m.Store, at: time.Now()}, nil
}

// projectionSet is the projections a snapshot holds.
type projectionSet struct {
	tokens    *tokenset.Set
	dir       *directory.Directory
	audit     *auditlog.Log
	integrity *integrity.Log
	chains    *projections.Chains
}

// restoreSnapshot replaces m's (empty) projections with the snapshot's
// when it is valid and checks out against the stream, and resumes the key
// chain there; otherwise it logs why and leaves them for a full replay.
func (m *Main) restoreSnapshot(ctx context.Context, chain *ledgerkey.Chain) {
	s := m.snapshots
	if s == nil {
		return
	}
	start := time.Now()
	b, err := s.read(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		m.log.Info("no projection snapshot: replaying the whole stream", "file", s.file)
		return
	}
	var ps *projectionSet
	if err == nil {
		ps, err = s.load(ctx, b, chain, func() projectionSet {
			return projectionSet{tokenset.New(), directory.New(), auditlog.New(m.reads()), integrity.NewLog(), projections.NewChains()}
		})
	}
	if err != nil {
		m.log.Warn("projection snapshot discarded: replaying the whole stream", "file", s.file, "reason", err.Error())
		return
	}
	m.Tokens, m.Dir, m.Audit, m.Integrity, m.chains = ps.tokens, ps.dir, ps.audit, ps.integrity, ps.chains
	m.check.arm(s.written, ps.integrity.Tree(), ps.chains) // records 1..S: checked in the background
	m.log.Info("projections restored from their snapshot", "file", s.file, "seq", s.written,
		"bytes", len(b), "duration_seconds", time.Since(start).Seconds())
}

// read reads the snapshot file: a regular file no larger than twice the
// stream's bytes and 64 MiB (the projections are smaller than the events
// they hold), checked before anything is allocated.
func (s *snapshots) read(ctx context.Context) ([]byte, error) {
	if _, err := os.Lstat(s.file); err != nil {
		return nil, err
	}
	st, err := s.store.State(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read the stream's size: %v", errSnapshot, err)
	}
	b, err := readBesideFile(s.file, 2*int64(min(st.Bytes, 1<<60))+64<<20)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %v", errSnapshot, err)
	}
	return b, err
}

// errSnapshot is wrapped by every reason a snapshot is discarded.
var errSnapshot = errors.New("snapshot")

// load checks b and the stream and returns the restored projections. The
// checks, in order: the magic and a known format version, the checksum
// (a corrupt file), the MAC (a file this ledger's key did not write), the
// key chain's state, the sequence against the stream's last, the event
// at that sequence (its seal and the leaf hash of its stored bytes), the
// restored tree's root and leaf; then each projection decodes.
func (s *snapshots) load(ctx context.Context, b []byte, chain *ledgerkey.Chain, fresh func() projectionSet) (*projectionSet, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errSnapshot, fmt.Sprintf(format, args...))
	}
	h, err := decodeSnapshot(b, s.mac)
	if err != nil {
		return nil, err
	}
	keyID, seq, evHash, leaf, root, vkey, firstSigned, sections := h.keyID, h.seq, h.evHash, h.leaf, h.root, h.vkey, h.firstSigned, h.sections
	if keyID != s.keyID {
		return nil, fail("written with signing key %s, the ledger's key is %s", keyID, s.keyID)
	}
	last, err := s.store.LastSequence(ctx)
	if err != nil {
		return nil, fail("read the stream's last sequence: %v", err)
	}
	if seq > last {
		return nil, fail("it stands at sequence %d, beyond the stream's last %d", seq, last)
	}
	var stored []byte
	err = s.store.EventBytes(ctx, []uint64{seq}, func(_ uint64, data []byte) error {
		stored = bytes.Clone(data)
		return nil
	})
	if err != nil {
		return nil, fail("read the event at its sequence %d: %v", seq, err)
	}
	if tlog.RecordHash(stored) != leaf {
		return nil, fail("the event stored at sequence %d is not the one the snapshot names", seq)
	}
	ps := fresh()
	restores := []func([]byte) error{ps.tokens.RestoreSnapshot, ps.dir.RestoreSnapshot, ps.audit.RestoreSnapshot, ps.integrity.RestoreSnapshot,
		ps.chains.UnmarshalBinary}
	for i, restore := range restores {
		if err := restore(sections[i]); err != nil {
			return nil, fail("%v", err)
		}
	}
	for _, p := range []interface{ LastApplied() uint64 }{ps.tokens, ps.dir, ps.audit, ps.integrity, ps.chains} {
		if p.LastApplied() != seq {
			return nil, fail("%T stands at %d, the snapshot at %d", p, p.LastApplied(), seq)
		}
	}
	if got, err := ps.integrity.Tree().LeafHash(seq); err != nil || got != leaf {
		return nil, fail("the tree's leaf at %d is not the event's", seq)
	}
	if got, err := ps.integrity.Tree().Root(int64(seq)); err != nil || got != root {
		return nil, fail("the tree does not hash to the snapshot's root")
	}
	if env, err := events.Unmarshal(stored); err != nil || env.Hash != evHash {
		return nil, fail("the event at sequence %d does not carry the seal the snapshot names", seq)
	}
	// Tamper evidence is kept: every record 1..S as stored must be the
	// leaf the snapshot's tree holds, under its event's subject. That
	// check reads the whole stream; it runs once the service is ready
	// (wholeLogCheck), which fails closed if it finds a record that is
	// not, naming it as a full replay does.
	if err := chain.Resume(vkey, firstSigned); err != nil {
		return nil, fail("the key chain: %v", err)
	}
	s.mu.Lock()
	s.written, s.at = seq, time.Now()
	s.mu.Unlock()
	return &ps, nil
}

// write takes a snapshot of the projections at the sequence the runner
// applied (if it moved since the last) and replaces the file with it
// (a new file renamed over the old one, synced first). The projections
// are encoded while the runner holds; the MAC and the write happen after.
func (s *snapshots) write(ctx context.Context) error {
	runner, ps, chain := s.runner, s.ps, s.chain
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		seq        uint64
		leaf, root tlog.Hash
		vkey       string
		first      uint64
		sections   [5][]byte
	)
	errNothingNew := errors.New("nothing new")
	err := runner.Hold(func(applied uint64) error {
		if applied == 0 || applied == s.written {
			return errNothingNew
		}
		seq = applied
		var err error
		if leaf, err = ps.integrity.Tree().LeafHash(seq); err != nil {
			return err
		}
		if root, err = ps.integrity.Tree().Root(int64(seq)); err != nil {
			return err
		}
		vkey, first = chain.State()
		sections[0] = ps.tokens.AppendSnapshot(nil)
		sections[1] = ps.dir.AppendSnapshot(nil)
		if sections[2], err = ps.audit.AppendSnapshot(nil); err != nil {
			return err
		}
		sections[3] = ps.integrity.AppendSnapshot(nil)
		sections[4], err = ps.chains.MarshalBinary()
		return err
	})
	if errors.Is(err, errNothingNew) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("snapshot: encode the projections: %w", err)
	}
	envs, err := s.store.Events(ctx, []uint64{seq})
	if err != nil || len(envs) != 1 {
		return fmt.Errorf("snapshot: read the event at %d: %v", seq, err)
	}
	if tlog.RecordHash(envs[0].Stored()) != leaf {
		return fmt.Errorf("snapshot: the event stored at %d is not the tree's leaf", seq)
	}
	b := encodeSnapshot(snapHeader{keyID: s.keyID, seq: seq, evHash: envs[0].Hash, leaf: leaf, root: root,
		vkey: vkey, firstSigned: first, sections: sections}, s.mac)
	if err := writeBesideFile(s.file, b, 0o600); err != nil {
		return fmt.Errorf("snapshot: write %s: %w", s.file, err)
	}
	s.written, s.at = seq, time.Now()
	s.log.Info("projection snapshot written", "file", s.file, "seq", seq, "bytes", len(b))
	return nil
}

// due reports whether `every` events were applied since the last
// snapshot, or `interval` passed and there is anything new.
func (s *snapshots) due(applied uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return applied > s.written && (applied-s.written >= s.every || time.Since(s.at) >= s.interval)
}

// serve starts writing snapshots of m's projections (when due, until ctx
// is done, and at Close). Call it once the projections caught up.
func (m *Main) serveSnapshots(ctx context.Context, chain *ledgerkey.Chain) {
	s := m.snapshots
	if s == nil {
		return
	}
	s.runner, s.chain = m.Runner, chain
	s.ps = projectionSet{m.Tokens, m.Dir, m.Audit, m.Integrity, m.chains}
	s.serving.Store(true)
	m.goRun("snapshots", func() error { return s.run(ctx) })
}

// finalSnapshot writes a snapshot of everything applied, on graceful
// shutdown after the final checkpoint: the next start replays nothing.
func (m *Main) finalSnapshot() {
	s := m.snapshots
	if s == nil || !s.serving.Load() || m.Runner.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.catchUp(ctx); err != nil {
		m.log.Warn("no projection snapshot at shutdown", "err", err)
		return
	}
	if err := s.write(ctx); err != nil {
		m.log.Warn("no projection snapshot at shutdown", "err", err)
	}
}

// run writes snapshots when due until ctx is done.
func (s *snapshots) run(ctx context.Context) error {
	runner := s.runner
	t := time.NewTicker(min(s.interval, time.Second))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if runner.Err() != nil || !s.due(runner.LastApplied()) {
			continue
		}
		if err := s.write(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("projection snapshot failed; retrying at the next interval", "err", err)
		}
	}
}

// snapHeader is a snapshot file's content.
type snapHeader struct {
	keyID       string
	seq         uint64
	evHash      string
	leaf, root  tlog.Hash
	vkey        string
	firstSigned uint64
	sections    [5][]byte // token set, directory, audit index, integrity, aggregate chains
}

// encodeSnapshot is the file of h, with its checksum and MAC.
func encodeSnapshot(h snapHeader, macKey []byte) []byte {
	size := len(snapshotMagic) + 64 + len(h.keyID) + len(h.evHash) + 2*tlog.HashSize + len(h.vkey) + snapshotTrailer
	for _, sec := range h.sections {
		size += len(sec) + binary.MaxVarintLen64
	}
	b := make([]byte, 0, size)
	b = append(b, snapshotMagic...)
	b = binary.AppendUvarint(b, snapshotFormat)
	b = appendStr(b, h.keyID)
	b = binary.AppendUvarint(b, h.seq)
	b = appendStr(b, h.evHash)
	b = append(b, h.leaf[:]...)
	b = append(b, h.root[:]...)
	b = appendStr(b, h.vkey)
	b = binary.AppendUvarint(b, h.firstSigned)
	for _, sec := range h.sections {
		b = binary.AppendUvarint(b, uint64(len(sec)))
		b = append(b, sec...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32c))
	mac := hmac.New(sha256.New, macKey)
	mac.Write(b)
	return mac.Sum(b)
}

// decodeSnapshot checks b's magic, format version, checksum and MAC, in
// that order, and decodes its content (the sections share b's memory).
func decodeSnapshot(b, macKey []byte) (snapHeader, error) {
	fail := func(format string, args ...any) (snapHeader, error) {
		return snapHeader{}, fmt.Errorf("%w: %s", errSnapshot, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) || len(b) < len(snapshotMagic)+1+snapshotTrailer {
		return fail("not a snapshot file")
	}
	v, n := binary.Uvarint(b[len(snapshotMagic):])
	if n <= 0 || v != snapshotFormat {
		return fail("format version %d is unknown to this build (it reads %d)", v, snapshotFormat)
	}
	signed, trailer := b[:len(b)-sha256.Size], b[len(b)-sha256.Size:]
	content, sum := signed[:len(signed)-4], signed[len(signed)-4:]
	if crc32.Checksum(content, crc32c) != binary.BigEndian.Uint32(sum) {
		return fail("checksum mismatch: the file is corrupt")
	}
	mac := hmac.New(sha256.New, macKey)
	mac.Write(signed)
	if !hmac.Equal(mac.Sum(nil), trailer) {
		return fail("its MAC does not verify with this ledger's signing key (written with another key, or forged)")
	}
	r := snapReader{b: content[len(snapshotMagic)+n:]}
	var h snapHeader
	h.keyID, h.seq, h.evHash = r.str(), r.uint(), r.str()
	copy(h.leaf[:], r.raw(tlog.HashSize))
	copy(h.root[:], r.raw(tlog.HashSize))
	h.vkey, h.firstSigned = r.str(), r.uint()
	for i := range h.sections {
		h.sections[i] = r.raw(int(r.uint()))
	}
	if r.bad || len(r.b) != 0 || h.seq == 0 {
		return fail("the header does not decode")
	}
	return h, nil
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// snapReader reads the snapshot header; bad is set at the first error.
type snapReader struct {
	b   []byte
	bad bool
}

func (r *snapReader) uint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) raw(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.bad, r.b = true, nil
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) str() string { return string(r.raw(int(r.uint()))) }
