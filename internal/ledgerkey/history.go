package ledgerkey

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// History is what a ledger keeps beside its key file (never in the data
// dir) of the keys it has signed with: the verifier key of every key it
// generated, oldest first, and the last sequence its stream held before
// it kept a history (the unsigned events up to there are the history of a
// ledger that did not sign yet).
//
// The stream alone cannot say which key the ledger signed its first
// events with: a key.rotated names its new key and is signed by the old
// one, so the root of the chain is whatever the first signed event names.
// Anyone who can write the data dir of a ledger that has not signed yet
// could plant events signed by a key of their own and a key.rotated from
// it to the ledger's key. A Chain anchored in the History (Anchor) takes a
// first signed event only by a key the History lists, and an unsigned
// event only up to UnsignedThrough.
type History struct {
	// UnsignedThrough is the stream's last sequence when the ledger began
	// its history: unsigned events after it are forgeries.
	UnsignedThrough uint64
	// UnsignedRoot is the Merkle tree hash (RFC 6962, the integrity
	// tree's) of the stream's records 1..UnsignedThrough as the ledger
	// took them: unsigned-through bounds how many unsigned events pass,
	// the root which (a stream replaced by one holding as many unsigned
	// events of a planter's own is refused). Zero: none kept.
	UnsignedRoot tlog.Hash
	// PinnedThrough and PinnedRoot are the stream's length and tree hash
	// when the ledger last rotated its key, after it checked every
	// signature up to there (0: never rotated). A retired key can sign
	// records that follow its chain up to its rotation; a stream that
	// does not hold these records is not the ledger's.
	PinnedThrough uint64
	PinnedRoot    tlog.Hash
	// Keys are verifier keys, oldest first, without repeats.
	Keys []string
}

// HistoryFile is the History kept for the key in keyFile:
// "<key file>.history".
func HistoryFile(keyFile string) string { return keyFile + ".history" }

// MaxHistoryBytes bounds a History file (about 60 bytes a key: a ledger
// rotating daily for a century stays under it).
const MaxHistoryBytes = 4 << 20

const historyHeader = "# tokenledger key history: the verifier keys this ledger has signed with, oldest first.\n" +
	"# Written by the ledger beside its key file; keep it with the key file (backups, other nodes).\n"

// Add appends vkey unless h lists it; it reports whether it did.
func (h *History) Add(vkey string) bool {
	if slices.Contains(h.Keys, vkey) {
		return false
	}
	h.Keys = append(h.Keys, vkey)
	return true
}

// Lists reports whether h lists a key of ID id.
func (h *History) Lists(id string) bool {
	for _, v := range h.Keys {
		if _, kid, err := ParseVerifierKey(v); err == nil && kid == id {
			return true
		}
	}
	return false
}

// historyMACPurpose is the DeriveKey purpose of the key history's MAC.
const historyMACPurpose = "key-history"

// ErrHistoryNotSealed: the key history carries no MAC by the key file's
// key that matches its text.
var ErrHistoryNotSealed = errors.New("ledgerkey: the key history is not sealed by the key file's key (edited, written for another key, or planted)")

// Seal is the History's file sealed by each of keys: its text, then a
// line "mac <key ID> <base64 HMAC-SHA-256>" a key, the MAC keyed by the
// key's DeriveKey. The files beside a data dir sit where whoever can write
// its parent can plant one; only a holder of the private key can seal a
// history that OpenHistory takes. A rotation seals by the old key and the
// new one, so that a crash on either side of the key file's replacement
// leaves a history the key file opens.
func (h History) Seal(keys ...*Key) ([]byte, error) {
	text, err := h.MarshalText()
	if err != nil {
		return nil, err
	}
	out := slices.Clone(text)
	for _, k := range keys {
		mac, err := historyMAC(k, text)
		if err != nil {
			return nil, err
		}
		out = fmt.Appendf(out, "mac %s %s\n", k.ID(), base64.StdEncoding.EncodeToString(mac))
	}
	return out, nil
}

// OpenHistory reads a key history file that key sealed (History.Seal):
// ErrHistoryNotSealed when no MAC line of key's ID matches its text.
func OpenHistory(b []byte, key *Key) (History, error) {
	text, macs, _ := bytes.Cut(b, []byte("\nmac "))
	if len(macs) == 0 {
		return History{}, ErrHistoryNotSealed
	}
	text = append(slices.Clip(text), '\n')
	// The MAC first: the text is read only once the key file's key
	// vouches for it (a planted file is named as such, and costs no
	// parsing).
	want, err := historyMAC(key, text)
	if err != nil {
		return History{}, err
	}
	for line := range strings.Lines("mac " + string(macs)) {
		id, mac, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "mac "), " ")
		got, err := base64.StdEncoding.DecodeString(mac)
		if ok && err == nil && id == key.ID() && hmac.Equal(got, want) {
			return ParseHistory(text)
		}
	}
	return History{}, ErrHistoryNotSealed
}

func historyMAC(k *Key, text []byte) ([]byte, error) {
	secret, err := k.DeriveKey(historyMACPurpose)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, secret)
	m.Write(text)
	return m.Sum(nil), nil
}

// MarshalText is the History's text (unsealed: see Seal).
func (h History) MarshalText() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(historyHeader)
	fmt.Fprintf(&b, "unsigned-through %d\n", h.UnsignedThrough)
	if h.UnsignedRoot != (tlog.Hash{}) {
		if h.UnsignedThrough == 0 {
			return nil, errors.New("ledgerkey: key history: an unsigned root without unsigned events")
		}
		fmt.Fprintf(&b, "unsigned-root %s\n", h.UnsignedRoot)
	}
	if h.PinnedThrough > 0 {
		if h.PinnedRoot == (tlog.Hash{}) {
			return nil, errors.New("ledgerkey: key history: a pinned length without its tree hash")
		}
		fmt.Fprintf(&b, "pinned %d %s\n", h.PinnedThrough, h.PinnedRoot)
	}
	for _, v := range h.Keys {
		if _, _, err := ParseVerifierKey(v); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "key %s\n", v)
	}
	return b.Bytes(), nil
}

// ParseHistory reads a History file: "#" comment lines, one
// "unsigned-through N" line, with N > 0 at most one "unsigned-root <tree
// hash>" line, then one "key <verifier key>" line per key.
// Anything else is an error, as is a History without a key.
func ParseHistory(b []byte) (History, error) {
	var h History
	seenUnsigned, seenRoot, seenPinned := false, false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 4096)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		word, rest, _ := strings.Cut(line, " ")
		switch {
		case word == "unsigned-through" && !seenUnsigned && len(h.Keys) == 0:
			v, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return History{}, fmt.Errorf("ledgerkey: key history line %d: unsigned-through %q is not a sequence", n, rest)
			}
			h.UnsignedThrough, seenUnsigned = v, true
		case word == "unsigned-root" && seenUnsigned && !seenRoot && h.UnsignedThrough > 0 && len(h.Keys) == 0:
			root, err := tlog.ParseHash(strings.TrimSpace(rest))
			if err != nil || root == (tlog.Hash{}) {
				return History{}, fmt.Errorf("ledgerkey: key history line %d: unsigned-root %.60q is not a tree hash", n, rest)
			}
			h.UnsignedRoot, seenRoot = root, true
		case word == "pinned" && seenUnsigned && !seenPinned && len(h.Keys) == 0:
			ns, rs, _ := strings.Cut(strings.TrimSpace(rest), " ")
			v, err := strconv.ParseUint(ns, 10, 64)
			root, rerr := tlog.ParseHash(strings.TrimSpace(rs))
			if err != nil || v == 0 || rerr != nil || root == (tlog.Hash{}) {
				return History{}, fmt.Errorf("ledgerkey: key history line %d: pinned %.60q is not a sequence and a tree hash", n, rest)
			}
			h.PinnedThrough, h.PinnedRoot, seenPinned = v, root, true
		case word == "key" && seenUnsigned:
			vkey := strings.TrimSpace(rest)
			if _, _, err := ParseVerifierKey(vkey); err != nil {
				return History{}, fmt.Errorf("ledgerkey: key history line %d: %w", n, err)
			}
			h.Add(vkey)
		default:
			return History{}, fmt.Errorf("ledgerkey: key history line %d: want %s, got %.40q", n, map[bool]string{false: `"unsigned-through N"`, true: `"key <verifier key>"`}[seenUnsigned], line)
		}
	}
	if err := sc.Err(); err != nil {
		return History{}, fmt.Errorf("ledgerkey: key history: %w", err)
	}
	if len(h.Keys) == 0 {
		return History{}, errors.New("ledgerkey: key history lists no key")
	}
	return h, nil
}

// Anchor makes c take the stream's first signed event only by a key h
// lists (or one of also: the key file's), and an unsigned event only up
// to h.UnsignedThrough. Without Anchor, the first signed event may name
// any key c knows (an auditor holding only the newest verifier key of a
// rotated ledger) and unsigned events pass until the first signed one.
func (c *Chain) Anchor(h History, also ...string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := map[string]bool{}
	for _, v := range append(slices.Clone(h.Keys), also...) {
		if err := c.know(v); err != nil {
			return err
		}
		_, id, _ := ParseVerifierKey(v)
		ids[id] = true
	}
	c.anchors, c.unsignedThrough, c.pins = ids, h.UnsignedThrough, h.Pins()
	return nil
}

// Pin is a prefix of the stream, records 1..Through, whose RFC 6962 tree
// hash (Root) a key history recorded; What says which records they are,
// for a finding that names them.
type Pin struct {
	Through uint64
	Root    tlog.Hash
	What    string
}

// Pins lists the prefixes h pinned: its unsigned events' (when it kept
// their root) and the stream's at its last rotation (when it pinned one).
func (h History) Pins() []Pin {
	var pins []Pin
	if h.UnsignedThrough > 0 && h.UnsignedRoot != (tlog.Hash{}) {
		pins = append(pins, Pin{h.UnsignedThrough, h.UnsignedRoot, "the unsigned events the ledger took when it began signing"})
	}
	if h.PinnedThrough > 0 {
		pins = append(pins, Pin{h.PinnedThrough, h.PinnedRoot, "the records the ledger checked when it last rotated its signing key"})
	}
	return pins
}

// Pins are the prefixes the anchoring history pinned (History.Pins):
// none when the Chain is not anchored.
func (c *Chain) Pins() []Pin {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.pins)
}

// UnsignedThrough is the last sequence an unsigned event may have: ok
// false when the Chain is not anchored (any may, until the first signed).
func (c *Chain) UnsignedThrough() (seq uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.unsignedThrough, c.anchors != nil
}
