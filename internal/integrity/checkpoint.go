package integrity

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Errors of checkpoint parsing and verification.
var (
	// ErrMalformedCheckpoint: the note's text is not a C2SP tlog-checkpoint.
	ErrMalformedCheckpoint = errors.New("integrity: malformed checkpoint")
	// ErrCheckpointSignature: the note carries no valid signature of a
	// known key, or a signature that does not verify, or its origin is not
	// the signing key's name.
	ErrCheckpointSignature = errors.New("integrity: checkpoint not signed by the ledger key")
)

// MaxCheckpointSize bounds a signed checkpoint note this package reads.
const MaxCheckpointSize = 8 << 10

// Checkpoint is the body of a C2SP tlog-checkpoint
// (https://c2sp.org/tlog-checkpoint): the log's origin, the tree size and
// the root hash of the tree of the first Size records.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
	// Extensions are the optional lines after the root, each without its
	// newline; the ledger writes none and keeps those it reads.
	Extensions []string
	// Signers are the IDs (the key hash, 8 lower-case hex digits, as
	// ledgerkey names keys) of the known keys, named as the origin, whose
	// signatures verified; set by OpenCheckpoint.
	Signers []string
}

// Text is the checkpoint's note text: origin, decimal size and base64 root,
// each on a line, then the extension lines.
func (c Checkpoint) Text() string {
	var b strings.Builder
	b.WriteString(c.Origin)
	b.WriteByte('\n')
	b.WriteString(strconv.FormatInt(c.Size, 10))
	b.WriteByte('\n')
	b.WriteString(base64.StdEncoding.EncodeToString(c.Root[:]))
	b.WriteByte('\n')
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.String()
}

// ParseCheckpoint parses a checkpoint's note text (not the signed note:
// see [OpenCheckpoint]). It is strict: one origin line that is not empty,
// a size in decimal without sign or leading zeros, a root that is the
// standard padded base64 of 32 bytes, and non-empty extension lines.
func ParseCheckpoint(text string) (Checkpoint, error) {
	if !strings.HasSuffix(text, "\n") {
		return Checkpoint{}, fmt.Errorf("%w: the text does not end with a newline", ErrMalformedCheckpoint)
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return Checkpoint{}, fmt.Errorf("%w: want origin, size and root lines, got %d lines", ErrMalformedCheckpoint, len(lines))
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" {
		return Checkpoint{}, fmt.Errorf("%w: empty origin", ErrMalformedCheckpoint)
	}
	sz := lines[1]
	if sz == "" || (len(sz) > 1 && sz[0] == '0') || strings.TrimLeft(sz, "0123456789") != "" {
		return Checkpoint{}, fmt.Errorf("%w: size %q is not a decimal number", ErrMalformedCheckpoint, sz)
	}
	n, err := strconv.ParseInt(sz, 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: size %q: %w", ErrMalformedCheckpoint, sz, err)
	}
	c.Size = n
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize || base64.StdEncoding.EncodeToString(root) != lines[2] {
		return Checkpoint{}, fmt.Errorf("%w: root %q is not the base64 of %d bytes", ErrMalformedCheckpoint, lines[2], tlog.HashSize)
	}
	copy(c.Root[:], root)
	for _, e := range lines[3:] {
		if e == "" {
			return Checkpoint{}, fmt.Errorf("%w: empty extension line", ErrMalformedCheckpoint)
		}
		c.Extensions = append(c.Extensions, e)
	}
	return c, nil
}

// SignCheckpoint returns the signed note of c signed by s. c.Origin must be
// the signer's name (the C2SP convention this package checks on open).
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	if c.Origin != s.Name() {
		return nil, fmt.Errorf("integrity: sign checkpoint: origin %q is not the key name %q", c.Origin, s.Name())
	}
	if _, err := ParseCheckpoint(c.Text()); err != nil {
		return nil, fmt.Errorf("integrity: sign checkpoint: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, s)
	if err != nil {
		return nil, fmt.Errorf("integrity: sign checkpoint: %w", err)
	}
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint note with the known keys and
// parses it. At least one signature must be by a known key whose name is
// the checkpoint's origin; signatures of unknown keys are ignored, a
// signature of a known key that does not verify is an error.
func OpenCheckpoint(msg []byte, known note.Verifiers) (Checkpoint, error) {
	c, _, err := openCheckpoint(msg, known)
	return c, err
}

// OpenCheckpointNote is [OpenCheckpoint] that also returns the note as the
// known keys signed it: its text and the signatures that verified, and
// nothing else. The lines of unknown keys a note may carry (whoever
// handed it over may add them: their names can hold C1 controls, DEL or
// bidi overrides) are dropped, so that what is printed and kept is what
// the ledger signed.
func OpenCheckpointNote(msg []byte, known note.Verifiers) (Checkpoint, []byte, error) {
	c, n, err := openCheckpoint(msg, known)
	if err != nil {
		return c, nil, err
	}
	var b strings.Builder
	b.WriteString(n.Text)
	b.WriteByte('\n')
	for _, s := range n.Sigs {
		b.WriteString("— ")
		b.WriteString(s.Name)
		b.WriteByte(' ')
		b.WriteString(s.Base64)
		b.WriteByte('\n')
	}
	return c, []byte(b.String()), nil
}

func openCheckpoint(msg []byte, known note.Verifiers) (Checkpoint, *note.Note, error) {
	if len(msg) > MaxCheckpointSize {
		return Checkpoint{}, nil, fmt.Errorf("%w: %d bytes, at most %d", ErrMalformedCheckpoint, len(msg), MaxCheckpointSize)
	}
	n, err := note.Open(msg, known)
	if err != nil {
		var unknown *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unknown) || errors.As(err, &invalid) {
			return Checkpoint{}, nil, fmt.Errorf("%w: %w", ErrCheckpointSignature, err)
		}
		return Checkpoint{}, nil, fmt.Errorf("%w: %w", ErrMalformedCheckpoint, err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	for _, s := range n.Sigs {
		if s.Name == c.Origin {
			c.Signers = append(c.Signers, fmt.Sprintf("%08x", s.Hash))
		}
	}
	if len(c.Signers) == 0 {
		return Checkpoint{}, nil, fmt.Errorf("%w: origin %q is not the name of a key that signed it", ErrCheckpointSignature, c.Origin)
	}
	return c, n, nil
}

// Verifiers parses public verifier keys ("<name>+<hash>+<base64>", what
// auditors keep) into the set [OpenCheckpoint] takes. A key given twice
// is one key; two different keys of one name and key hash (the hash is 32
// bits: a collision can be made) each verify a signature under that name
// and hash, rather than making every note ambiguous (note.VerifierList
// refuses them, and a genuine checkpoint would read as tampering).
func Verifiers(keys ...string) (note.Verifiers, error) {
	set := verifierSet{}
	seen := map[string]bool{}
	for _, k := range keys {
		k = strings.TrimSpace(k)
		v, err := note.NewVerifier(k)
		if err != nil {
			return nil, fmt.Errorf("integrity: verifier key: %w", err)
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		nh := nameHash{v.Name(), v.KeyHash()}
		set[nh] = append(set[nh], v)
	}
	if len(set) == 0 {
		return nil, errors.New("integrity: no verifier key")
	}
	return set, nil
}

type nameHash struct {
	name string
	hash uint32
}

// verifierSet is the note.Verifiers of Verifiers.
type verifierSet map[nameHash][]note.Verifier

func (s verifierSet) Verifier(name string, hash uint32) (note.Verifier, error) {
	switch vs := s[nameHash{name, hash}]; len(vs) {
	case 0:
		return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
	case 1:
		return vs[0], nil
	default:
		return anyOf(vs), nil
	}
}

// anyOf verifies a signature that one of its keys (of one name and key
// hash) made.
type anyOf []note.Verifier

func (a anyOf) Name() string    { return a[0].Name() }
func (a anyOf) KeyHash() uint32 { return a[0].KeyHash() }
func (a anyOf) Verify(msg, sig []byte) bool {
	for _, v := range a {
		if v.Verify(msg, sig) {
			return true
		}
	}
	return false
}

// VerifierKeyOf is the public verifier key ("<name>+<hash>+<base64>") of
// a signed-note Ed25519 signer key ("PRIVATE+KEY+<name>+<hash>+<base64>"),
// as the ledger keeps it in its key file. Errors never repeat the key.
func VerifierKeyOf(skey string) (string, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return "", errors.New("integrity: not a signed-note signer key (PRIVATE+KEY+<name>+<hash>+<base64>)")
	}
	fields := strings.SplitN(skey, "+", 5) // the key data may hold '+'
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return "", errors.New("integrity: not an Ed25519 signer key")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return "", fmt.Errorf("integrity: verifier key: %w", err)
	}
	return vkey, nil
}
