package service

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// signingKeyFile is the key file: --signing-key, or the file beside the
// data dir.
func (m *Main) signingKeyFile() string {
	if m.Config.SigningKey != "" {
		return m.Config.SigningKey
	}
	return ledgerkey.DefaultFile(m.Config.DataDir)
}

// setUpSigning loads (or generates) the ledger's signing key, rotates it
// when asked (once the stream's events verified, see checkBeforeRotating),
// makes the store sign every event it appends and returns the
// key chain the projections check every event against. It runs after the
// store is open and before the projections start.
func (m *Main) setUpSigning(ctx context.Context) (*ledgerkey.Chain, error) {
	file := m.signingKeyFile()
	if inside(file, m.Config.DataDir) {
		return nil, fmt.Errorf("signing key %s is inside the data dir %s: keep it outside (a copy of the data dir must not carry the key that proves it)", file, m.Config.DataDir)
	}
	if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
		if _, herr := os.Lstat(ledgerkey.HistoryFile(file)); herr == nil {
			// The history is written only beside a key file: the key file
			// went missing (a new key could not continue the stream).
			return nil, fmt.Errorf("signing key %s is missing, but its key history %s is there: restore the key file from its backup (no key was generated; for a new ledger remove the key history too)",
				file, ledgerkey.HistoryFile(file))
		}
	}
	key, generated, err := ledgerkey.LoadOrGenerate(file, ledgerkey.DefaultName)
	if err != nil {
		return nil, err
	}
	m.warnKeyMode(file)
	if generated {
		m.log.Warn("GENERATED A NEW LEDGER SIGNING KEY: back up the key file (without it this ledger cannot sign, and a new key cannot continue its history) and give auditors the verifier key",
			"key_file", file, "verifier_key", key.VerifierKey(), "key_id", key.ID())
	}
	rotations, err := m.Store.Load(ctx, events.KindLog, events.KeyAggregate)
	if err != nil {
		return nil, fmt.Errorf("read the key rotations: %w", err)
	}
	// The stored rotations are read before the replay checks them: one
	// the ledger did not write (a key made to share a known key's ID; a
	// last rotation not signed by the key it retires, or not following the
	// one before it) is a forgery, said before the key file is judged by
	// it or a rotation is chained after it.
	if probe, err := ledgerkey.NewChain(key.VerifierKey()); err != nil {
		return nil, err
	} else if err := probe.Learn(rotations); events.AsTamper(err) != nil {
		return nil, err
	}
	if prev, last := lastRotations(rotations); last != nil {
		if r, ok := rotationOf(last); ok {
			if err := unwrittenRotation(prev, last, r); err != nil {
				return nil, err
			}
		}
	}
	if key, err = m.finishRotation(file, key, rotations); err != nil {
		return nil, err
	}
	if m.keyHist, err = m.keyHistory(ctx, file, key, generated, rotations); err != nil {
		return nil, err
	}
	if m.Config.RotateSigningKey {
		checked, err := m.checkBeforeRotating(ctx, key, rotations)
		if err != nil {
			return nil, err
		}
		if key, rotations, err = m.rotate(ctx, file, key, rotations, checked.seq, checked.root); err != nil {
			return nil, err
		}
	}
	chain, err := m.freshChain(key, rotations)
	if err != nil {
		return nil, err
	}
	// The projections do not verify again the signatures this process
	// makes (they still hash each event's stored bytes).
	own := ledgerkey.NewOwn(0)
	chain.SkipOwn(own)
	// Events are signed with nonces prepared ahead (ledgerkey.EventSigner):
	// standard Ed25519 signatures, most of whose cost is off the append's path.
	var signer events.Signer = key
	if es, err := key.EventSigner(); err == nil {
		signer = es
	}
	m.Store.SetSigner(own.Signer(signer))
	m.key = key
	m.log.Info("ledger signing key", "key_file", file, "verifier_key", key.VerifierKey(), "key_id", key.ID())
	return chain, nil
}

// finishRotation makes sure the key file holds the key the last key.rotated
// event names: after a crash between the append and the file's replacement
// the new key is still in "<file>.next", and is moved into place.
func (m *Main) finishRotation(file string, key *ledgerkey.Key, rotations []events.Envelope) (*ledgerkey.Key, error) {
	_, last := lastRotations(rotations)
	r, ok := rotationOf(last)
	if !ok || r.Key == key.VerifierKey() {
		return key, nil // none, the key file's, or unreadable (the chain check reports that)
	}
	next, err := ledgerkey.Load(file + ".next")
	if err == nil && next.VerifierKey() == r.Key {
		if err := os.Rename(file+".next", file); err != nil {
			return nil, fmt.Errorf("finish the key rotation: %w", err)
		}
		m.log.Warn("finished an interrupted signing key rotation", "key_file", file, "verifier_key", next.VerifierKey())
		return next, nil
	}
	return nil, fmt.Errorf("signing key %s is key %s, but the ledger's last key.rotated event names key %s (sequence %d): start with the current key file "+
		"(if this is it, that event is one the ledger did not write: restore the stream from a backup)",
		file, key.VerifierKey(), r.Key, last.Sequence)
}

// unwrittenRotation is a TamperError when last, the stream's last
// key.rotated (r its payload, prev the one before it or nil), is one the
// ledger did not write: not signed by the key it names as the previous
// one, or naming as previous another key than the one prev made current.
// (A stored rotation is read at start before the replay checks it;
// without this a planted one was reported as a stale key file.)
func unwrittenRotation(prev, last *events.Envelope, r events.KeyRotated) error {
	why := ""
	if p, ok := rotationOf(prev); ok && p.Key != r.Previous {
		why = fmt.Sprintf("names previous key %s, the rotation before it made key %s current", r.Previous, p.Key)
	} else if pub, id, err := ledgerkey.ParseVerifierKey(r.Previous); err != nil {
		why = fmt.Sprintf("names previous key %q: %v", r.Previous, err)
	} else if err := last.CheckSignature(events.OneKey{ID: id, Pub: pub}); err != nil {
		why = fmt.Sprintf("is not signed by the key it retires (%s): %v", r.Previous, err)
	}
	if why == "" {
		return nil
	}
	return &events.TamperError{Seq: last.Sequence, Kind: events.TamperForged,
		Err: fmt.Errorf("the key.rotated event at sequence %d %s: the ledger did not write it", last.Sequence, why)}
}

// newKeyID generates the successor of key: a key whose ID no key of the
// chain (key, or one a rotation names) has, since a chain refuses a
// second key of a known ID (ledgerkey.ErrKeyIDCollision). A random key
// shares one with odds of about 2^-32 a known key; the loop is bounded.
func newKeyID(key *ledgerkey.Key, rotations []events.Envelope) (*ledgerkey.Key, error) {
	known := map[string]bool{key.ID(): true}
	for i := range rotations {
		if r, ok := rotationOf(&rotations[i]); ok {
			for _, v := range []string{r.Previous, r.Key} {
				if _, id, err := ledgerkey.ParseVerifierKey(v); err == nil {
					known[id] = true
				}
			}
		}
	}
	for range 8 {
		next, err := ledgerkey.Generate(key.Name())
		if err != nil || !known[next.ID()] {
			return next, err
		}
	}
	return nil, errors.New("rotate the signing key: every new key had the ID of a key the chain knows")
}

// lastRotations are the stream's last two key.rotated events (nil when
// there are fewer).
func lastRotations(rotations []events.Envelope) (prev, last *events.Envelope) {
	for i := range rotations {
		if rotations[i].Type == events.TypeKeyRotated {
			prev, last = last, &rotations[i]
		}
	}
	return prev, last
}

// rotationOf is e's key.rotated payload (false for nil or unreadable).
func rotationOf(e *events.Envelope) (events.KeyRotated, bool) {
	if e == nil {
		return events.KeyRotated{}, false
	}
	p, err := e.Payload()
	if err != nil {
		return events.KeyRotated{}, false
	}
	r, ok := p.(events.KeyRotated)
	return r, ok
}

// checkedPrefix is how far checkBeforeRotating checked the stream: its
// last sequence then and the tree hash of records 1..seq.
type checkedPrefix struct {
	seq  uint64
	root tlog.Hash
}

// checkBeforeRotating replays the whole stream with a fresh key chain
// (key, the key file's, and the keys rotations name), every event's
// signature checked, before the start rotates the signing key. The
// rotation cannot be undone: it chains a key.rotated signed by key after
// the stream's last rotation and replaces the key file, whose old key a
// restore from a backup then needs. A key.rotated planted as the stream's
// first and last rotation, signed by a key it names as previous and
// naming key as new, passes every check above, which read the rotations
// alone; only the events before it tell it from the ledger's own (key
// signed them). It returns the tampering the replay found, as an
// *events.TamperError, before anything is appended or written; else the
// last sequence it checked, which the rotation's append expects.
//
// The last checkpoint covers no signature here (no TrustThrough): a
// rotation is rare and cannot be undone, so this check pays for every
// signature rather than trust events a checkpoint proves only once the
// replay reaches its root. Starts without --rotate-signing-key do not
// run it.
func (m *Main) checkBeforeRotating(ctx context.Context, key *ledgerkey.Key, rotations []events.Envelope) (checkedPrefix, error) {
	// A deadline of its own, as the whole-log check's: without one each
	// request of the read would get the client's default (seconds).
	ctx, cancel := context.WithTimeout(ctx, time.Hour)
	defer cancel()
	last, err := m.Store.LastSequence(ctx)
	if err != nil {
		return checkedPrefix{}, fmt.Errorf("rotate the signing key: read the stream's last sequence: %w", err)
	}
	// An empty stream is checked too: replayed (nothing), then compared
	// with the kept tree head, which a wiped data dir does not extend.
	chain, err := m.freshChain(key, rotations)
	if err != nil {
		return checkedPrefix{}, err
	}
	const what = "checking every event's signature before rotating the signing key"
	prev := m.starting.Swap(&startState{reason: what})
	defer m.starting.Store(prev)
	m.log.Info(what, "last_seq", last)
	start := time.Now()
	proj, err := m.replayFreshTree(ctx, chain, last)
	if err != nil {
		if te := events.AsTamper(err); te != nil {
			m.log.Error("ledger tampered: the signing key was not rotated (the key file is unchanged, nothing was appended); restore the stream from a backup",
				"seq", te.Seq, "kind", te.Kind, "err", te)
			return checkedPrefix{}, te
		}
		return checkedPrefix{}, fmt.Errorf("rotate the signing key: check the stream first: %w", err)
	}
	// The stream must also extend the tree head kept beside the data dir,
	// as the start checks once the projections caught up (checkpoints.start):
	// an older copy of the data dir put back, or a stream cut short, holds
	// only events the ledger wrote, and the replay alone accepts it.
	if keep := m.keptHeadFile(); keep != "" {
		keys, err := rotatedKeys(key.VerifierKey(), rotations)
		if err != nil {
			return checkedPrefix{}, err
		}
		_, _, cp, _ := proj.LastCheckpoint()
		if err := checkHeadFile(proj.Tree(), keep, keys, cp.Size); err != nil {
			m.log.Error("the stream does not extend the tree head kept beside the data dir: the signing key was not rotated (the key file is unchanged, nothing was appended); restore the data dir from a backup",
				"tree_head", keep, "err", err)
			return checkedPrefix{}, err
		}
	}
	var root tlog.Hash
	if last > 0 {
		if root, err = proj.Tree().Root(int64(last)); err != nil {
			return checkedPrefix{}, fmt.Errorf("rotate the signing key: the checked stream's tree hash: %w", err)
		}
	}
	m.log.Info("every event's signature checked: rotating the signing key", "through", last,
		"duration_seconds", time.Since(start).Seconds())
	return checkedPrefix{seq: last, root: root}, nil
}

// rotate appends a key.rotated event signed by key naming a new key, and
// replaces the key file with the new key. The new key is written to
// "<file>.next" before the append, so a crash in between loses nothing
// (see finishRotation). The append expects checked, the last sequence
// checkBeforeRotating checked, as the whole stream's last: an event
// appended after it (another writer of a cluster's stream, during a check
// that takes half a minute a million events) was never checked, and
// the rotation is refused rather than chained after it.
func (m *Main) rotate(ctx context.Context, file string, key *ledgerkey.Key, rotations []events.Envelope, checked uint64, checkedRoot tlog.Hash) (*ledgerkey.Key, []events.Envelope, error) {
	next, err := newKeyID(key, rotations)
	if err != nil {
		return nil, nil, err
	}
	if err := os.Remove(file + ".next"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("rotate the signing key: %w", err)
	}
	// The key history lists the new key before anything signed by it can
	// exist (a crash after this leaves a listed key that never signed),
	// sealed by both keys: the key file opens it whether or not the
	// rotation got to replace it.
	hist := m.keyHist
	hist.Keys = slices.Clone(hist.Keys)
	hist.Add(next.VerifierKey())
	// … and pins the stream the check proved: records a retired key signs
	// later cannot replace them (checkPinned).
	if checked > hist.PinnedThrough {
		hist.PinnedThrough, hist.PinnedRoot = checked, checkedRoot
	}
	if err := m.writeKeyHistory(ledgerkey.HistoryFile(file), hist, key, next); err != nil {
		return nil, nil, fmt.Errorf("rotate the signing key: %w", err)
	}
	m.keyHist = hist
	if err := next.WriteNew(file + ".next"); err != nil {
		return nil, nil, fmt.Errorf("rotate the signing key: %w", err)
	}
	now := m.Config.now()
	env, err := events.New(ulid.Make().String(), events.KeyAggregate,
		events.KeyRotated{Previous: key.VerifierKey(), Key: next.VerifierKey()}, now)
	if err != nil {
		return nil, nil, err
	}
	env.Actor = events.System
	env.Via = events.Via{CredentialType: "internal", RequestID: "rotate-signing-key"}
	if n := len(rotations); n > 0 {
		env.Prev = rotations[n-1].Hash
	}
	if err := env.Seal(); err != nil {
		return nil, nil, err
	}
	m.Store.SetSigner(key) // the old key signs its successor
	stored, err := m.Store.Append(ctx, commands.Append{Event: env, Expected: checked, ExpectedFilter: events.SubjectPrefix + ".>",
		MsgID: "key-rotated/" + env.ID})
	if errors.Is(err, commands.ErrConflict) {
		// Nothing appended: the new key never signed, and is dropped.
		_ = os.Remove(file + ".next")
		return nil, nil, fmt.Errorf("rotate the signing key: events were appended to the stream after the check read it through sequence %d; "+
			"not rotated (the key file is unchanged): stop every other writer of the stream and start again: %w", checked, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("rotate the signing key: append key.rotated: %w", err)
	}
	if err := os.Rename(file+".next", file); err != nil {
		return nil, nil, fmt.Errorf("rotate the signing key: key.rotated is at sequence %d; move %s.next to %s by hand: %w", stored.Seq, file, file, err)
	}
	m.log.Warn("ROTATED THE LEDGER SIGNING KEY: give auditors the new verifier key",
		"seq", stored.Seq, "previous_verifier_key", key.VerifierKey(), "verifier_key", next.VerifierKey(), "key_file", file)
	rotations, err = m.Store.Load(ctx, events.KindLog, events.KeyAggregate)
	if err != nil {
		return nil, nil, fmt.Errorf("read the key rotations: %w", err)
	}
	return next, rotations, nil
}

// checkChainEnd refuses to serve when the stream's key chain, as replayed,
// does not end in the ledger's own key: the ledger would sign events the
// chain rejects.
func (m *Main) checkChainEnd(chain *ledgerkey.Chain) error {
	if id := chain.CurrentID(); id != "" && id != m.key.ID() {
		return fmt.Errorf("the stream's events are signed by key %s, but the signing key file holds key %s (%s)",
			chain.CurrentVerifierKey(), m.key.VerifierKey(), m.signingKeyFile())
	}
	return nil
}

// inside reports whether file is dir or lies under it.
func inside(file, dir string) bool {
	f, err1 := resolved(file)
	d, err2 := resolved(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	return f == d || strings.HasPrefix(f, d+string(filepath.Separator))
}

// resolved is path made absolute with every symbolic link followed (for a
// file that does not exist yet, its directory's links), so that a link
// outside the data dir to a file inside it counts as inside.
func resolved(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r, nil
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(abs))
	if err != nil {
		return abs, nil
	}
	return filepath.Join(dir, filepath.Base(abs)), nil
}

// warnKeyMode says loudly when the signing key file is readable or
// writable by other users than its owner (a copy made with cp, an archive
// restored with umask 022): whoever reads it can sign history as the
// ledger. It is not refused: secrets mounted by orchestrators often come
// as 0444 or 0644; tighten them (defaultMode 0400).
func (m *Main) warnKeyMode(file string) {
	fi, err := os.Stat(file)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return
	}
	m.log.Warn("the signing key file is readable or writable by other users: whoever reads it can sign history as this ledger; chmod 600 it (or mount it with mode 0400)",
		"key_file", file, "mode", fi.Mode().Perm().String())
}

// now reads the configured clock.
func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}
