package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// keyHistory returns the ledger's key history (ledgerkey.History), kept
// beside the key file, with key (the key file's) in it: the keys the
// ledger has signed with, which the first signed event of the stream must
// be signed by. A missing history is begun when the stream proves nothing
// else (empty, or first signed by key, or never signed by this ledger's
// key generated now); a stream that names other keys (key.rotated events)
// or holds unsigned events before a key the ledger already had is refused
// unless --adopt-key-history has the value the refusal names (bound to the
// stream as it is then): anyone who can write a data dir can plant that,
// and only the operator knows whether this ledger wrote it.
func (m *Main) keyHistory(ctx context.Context, file string, key *ledgerkey.Key, generated bool, rotations []events.Envelope) (ledgerkey.History, error) {
	hfile := ledgerkey.HistoryFile(file)
	b, err := readBesideFile(hfile, ledgerkey.MaxHistoryBytes)
	switch {
	case err == nil:
		h, err := ledgerkey.OpenHistory(b, key)
		if err != nil {
			return ledgerkey.History{}, fmt.Errorf("key history %s: %w: copy it with the key file from where that came from (its backup, the node that rotated)", hfile, err)
		}
		pinned := false
		if h.UnsignedThrough > 0 {
			root, err := m.unsignedRoot(ctx, h.UnsignedThrough)
			switch {
			case err != nil:
				return ledgerkey.History{}, fmt.Errorf("key history %s: %w", hfile, err)
			case h.UnsignedRoot == (tlog.Hash{}):
				// Kept by a version that pinned only their number.
				h.UnsignedRoot, pinned = root, true
			case root != h.UnsignedRoot:
				return ledgerkey.History{}, &events.TamperError{Seq: 1, Kind: events.TamperEdited,
					Err: fmt.Errorf("the stream's unsigned events 1 to %d are not the ones the ledger took when it began signing (key history %s: their tree hash was %s, it is %s): restore the data dir from a backup",
						h.UnsignedThrough, hfile, h.UnsignedRoot, root)}
			}
		}
		if err := m.checkPinnedLength(ctx, h, hfile); err != nil {
			return ledgerkey.History{}, err
		}
		if added := h.Add(key.VerifierKey()); added || pinned {
			// Sealed by the key file's key, which it does not list: not
			// written by a rotation, yet the key file is the ledger's.
			if err := m.writeKeyHistory(hfile, h, key); err != nil {
				return ledgerkey.History{}, err
			}
			if added {
				m.log.Info("key history: added the key file's key", "key_history", hfile, "verifier_key", key.VerifierKey())
			}
			if pinned {
				m.log.Warn("key history: pinned the tree hash of the unsigned events it took (as the stream holds them now)",
					"key_history", hfile, "unsigned_through", h.UnsignedThrough, "unsigned_root", h.UnsignedRoot.String())
			}
		}
		return h, nil
	case !errors.Is(err, fs.ErrNotExist):
		return ledgerkey.History{}, fmt.Errorf("key history %s: %w", hfile, err)
	}
	last, err := m.Store.LastSequence(ctx)
	if err != nil {
		return ledgerkey.History{}, fmt.Errorf("key history: read the stream's last sequence: %w", err)
	}
	h := ledgerkey.History{Keys: []string{key.VerifierKey()}}
	named := rotationKeys(rotations)
	switch {
	case last == 0:
		// A new ledger: every event will be signed by key.
	case generated && len(named) == 0:
		// The first start that signs: the stream's events are the
		// unsigned history of an older version (any signed one is by a
		// key the ledger does not have, and the replay says so).
		h.UnsignedThrough = last
		m.log.Warn("began the key history of a ledger whose events up to here are unsigned: they are taken as they are (nothing proves who wrote them)",
			"key_history", hfile, "unsigned_through", last)
	case len(named) == 0 && m.firstSignedBy(ctx, key):
		// Signed from its first event by the key file's key.
	default:
		// Only the operator can say the ledger wrote this stream; what they
		// checked is bound to the flag's value (the stream's tree hash and
		// keys as they are now), so that a flag left on the command line
		// adopts no stream planted after that start.
		root, err := m.unsignedRoot(ctx, last)
		if err != nil {
			return ledgerkey.History{}, fmt.Errorf("key history: %w", err)
		}
		token := adoptionToken(last, root, named, key)
		if m.Config.AdoptKeyHistory == token {
			h = ledgerkey.History{UnsignedThrough: last, UnsignedRoot: root, Keys: named}
			h.Add(key.VerifierKey())
			m.log.Warn("ADOPTED THE STREAM'S KEY CHAIN AS THE LEDGER'S KEY HISTORY (--adopt-key-history): the first signed event may be signed by any of these keys",
				"key_history", hfile, "verifier_keys", strings.Join(h.Keys, " "), "unsigned_through", last)
			break
		}
		why := "its events are not signed from the first one by the key file's key"
		if len(named) > 0 {
			why = fmt.Sprintf("its key.rotated events name keys other than the key file's (%s)", strings.Join(named, " "))
		}
		given := ""
		if m.Config.AdoptKeyHistory != "" {
			given = fmt.Sprintf(" (--adopt-key-history=%s was given for another stream than this one: remove it)", m.Config.AdoptKeyHistory)
		}
		return ledgerkey.History{}, fmt.Errorf("no key history beside the signing key (%s), and the stream cannot show which keys this ledger signed with: %s%s. "+
			"Copy the key history from where the key file came from (the node that rotated, the backup), "+
			"or, for a ledger rotated by a version before key histories, check that those are this ledger's keys and start once with --adopt-key-history=%s "+
			"(for the stream as it is now, through sequence %d; events planted in a data dir before the ledger signed look the same)", hfile, why, given, token, last)
	}
	if h.UnsignedThrough > 0 && h.UnsignedRoot == (tlog.Hash{}) {
		if h.UnsignedRoot, err = m.unsignedRoot(ctx, h.UnsignedThrough); err != nil {
			return ledgerkey.History{}, fmt.Errorf("key history: %w", err)
		}
	}
	if err := m.writeKeyHistory(hfile, h, key); err != nil {
		return ledgerkey.History{}, err
	}
	return h, nil
}

// adoptionToken is the value --adopt-key-history must have to adopt the
// stream as it is: a digest of its last sequence, its tree hash, the keys
// its rotations name and the key file's key.
func adoptionToken(last uint64, root tlog.Hash, named []string, key *ledgerkey.Key) string {
	d := sha256.New()
	fmt.Fprintf(d, "tokenledger adopt-key-history\n%d\n%s\n%s\n", last, root, key.VerifierKey())
	for _, v := range named {
		fmt.Fprintf(d, "%s\n", v)
	}
	return hex.EncodeToString(d.Sum(nil)[:16])
}

// unsignedRoot is the integrity tree hash (RFC 6962) of the stream's
// records 1..through as stored: the unsigned events a key history took.
// A record missing among them is a TamperError (a gap).
func (m *Main) unsignedRoot(ctx context.Context, through uint64) (tlog.Hash, error) {
	var f frontier
	err := m.Store.EventRange(ctx, 1, through, func(seq uint64, data []byte) error {
		if seq != f.n+1 {
			return &events.TamperError{Seq: f.n + 1, Kind: events.TamperGap,
				Err: fmt.Errorf("the record at sequence %d, among the unsigned events the key history took (1 to %d), is missing", f.n+1, through)}
		}
		f.add(tlog.RecordHash(data))
		return nil
	})
	if err != nil {
		return tlog.Hash{}, err
	}
	if f.n < through {
		return tlog.Hash{}, &events.TamperError{Seq: f.n + 1, Kind: events.TamperGap,
			Err: fmt.Errorf("the stream ends at sequence %d, before the last of the unsigned events the key history took (1 to %d)", f.n, through)}
	}
	return f.root(), nil
}

// frontier is an RFC 6962 Merkle tree kept as the roots of its complete
// subtrees, largest first: its tree hash without holding every leaf.
type frontier struct {
	n      uint64
	hashes []tlog.Hash
}

func (f *frontier) add(leaf tlog.Hash) {
	f.hashes = append(f.hashes, leaf)
	for k := f.n; k&1 == 1; k >>= 1 {
		l := len(f.hashes)
		f.hashes[l-2] = tlog.NodeHash(f.hashes[l-2], f.hashes[l-1])
		f.hashes = f.hashes[:l-1]
	}
	f.n++
}

// root is the tree hash of the leaves added (zero for none).
func (f *frontier) root() tlog.Hash {
	if len(f.hashes) == 0 {
		return tlog.Hash{}
	}
	h := f.hashes[len(f.hashes)-1]
	for i := len(f.hashes) - 2; i >= 0; i-- {
		h = tlog.NodeHash(f.hashes[i], h)
	}
	return h
}

// writeKeyHistory replaces the key history file with h sealed by keys.
func (m *Main) writeKeyHistory(hfile string, h ledgerkey.History, keys ...*ledgerkey.Key) error {
	b, err := h.Seal(keys...)
	if err == nil {
		err = writeBesideFile(hfile, b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("write the key history %s: %w", hfile, err)
	}
	return nil
}

// rotationKeys are the keys the key.rotated events name, in chain order
// (the first one's previous key first), without repeats.
func rotationKeys(rotations []events.Envelope) []string {
	var h ledgerkey.History
	for i := range rotations {
		if r, ok := rotationOf(&rotations[i]); ok {
			h.Add(r.Previous)
			h.Add(r.Key)
		}
	}
	return h.Keys
}

// firstSignedBy reports whether the stream's first event names key as its
// signer (the replay checks the signature; one unreadable is not).
func (m *Main) firstSignedBy(ctx context.Context, key *ledgerkey.Key) bool {
	envs, err := m.Store.Events(ctx, []uint64{1})
	return err == nil && len(envs) == 1 && envs[0].Sig != "" && envs[0].Key == key.ID()
}

// checkPinnedLength refuses, before the replay, a stream shorter than the
// one the ledger pinned when it last rotated its key (h.PinnedThrough):
// records a retired key signed up to its rotation, in place of the
// ledger's, never reach the projections when they are fewer.
func (m *Main) checkPinnedLength(ctx context.Context, h ledgerkey.History, hfile string) error {
	if h.PinnedThrough == 0 {
		return nil
	}
	last, err := m.Store.LastSequence(ctx)
	if err != nil {
		return fmt.Errorf("key history: read the stream's last sequence: %w", err)
	}
	if last < h.PinnedThrough {
		return &events.TamperError{Seq: last + 1, Kind: events.TamperGap,
			Err: fmt.Errorf("the stream ends at sequence %d, before the %d records the ledger checked when it last rotated its signing key (key history %s): restore the data dir from a backup",
				last, h.PinnedThrough, hfile)}
	}
	return nil
}

// checkPinned checks, once the projections caught up, that the stream's
// records 1..PinnedThrough hash to the tree hash the ledger pinned when it
// last rotated its key: a retired key's holder can sign records that follow
// the key chain up to its rotation, and the replay accepts them; the
// ledger's own are those it checked then.
func (m *Main) checkPinned() error {
	h := m.keyHist
	if h.PinnedThrough == 0 {
		return nil
	}
	tree := m.Integrity.Tree()
	if tree.Size() < int64(h.PinnedThrough) {
		return fmt.Errorf("%w: the projections hold %d records, fewer than the %d the ledger checked when it last rotated its signing key (run tokenledger verify; restore the data dir from a backup)",
			integrity.ErrTampered, tree.Size(), h.PinnedThrough)
	}
	root, err := tree.Root(int64(h.PinnedThrough))
	if err != nil {
		return fmt.Errorf("key history: the tree hash at %d: %w", h.PinnedThrough, err)
	}
	if root != h.PinnedRoot {
		return fmt.Errorf("%w: records 1 to %d are not the ones the ledger checked when it last rotated its signing key (their tree hash was %s, it is %s; run tokenledger verify; restore the data dir from a backup)",
			integrity.ErrTampered, h.PinnedThrough, h.PinnedRoot, root)
	}
	return nil
}
