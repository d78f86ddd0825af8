// Package ledgerkey is the ledger's signing key: one Ed25519 key, kept in a
// file outside the stream and the data dir as a signed-note signer key
// (golang.org/x/mod/sumdb/note, "PRIVATE+KEY+<name>+<id>+<base64>"). It
// signs every event the ledger appends (over the event's hash) and its
// checkpoints (signed notes). Auditors keep the verifier key
// ("<name>+<id>+<base64>"), which [Key.VerifierKey] returns and
// [ParseVerifierKey] reads.
//
// The private key never leaves a [Key]: no method returns it, and neither
// errors nor String print it.
package ledgerkey

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// DefaultName is the key name of generated keys (the first field of the
// verifier key).
const DefaultName = "tokenledger"

// algEd25519 is the signed-note algorithm byte of Ed25519 keys.
const algEd25519 = 1

// Key is the ledger's signing key. It implements events.Signer.
type Key struct {
	name     string
	id       string // 8-hex note key hash
	priv     ed25519.PrivateKey
	pub      ed25519.PublicKey
	vkey     string
	signer   note.Signer
	verifier note.Verifier
}

// Generate returns a new random key named name.
func Generate(name string) (*Key, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: generate: %w", err)
	}
	return parse(skey)
}

// Parse reads a signer key string ("PRIVATE+KEY+<name>+<id>+<base64>").
// Errors never repeat the string.
func Parse(skey string) (*Key, error) { return parse(strings.TrimSpace(skey)) }

func parse(skey string) (*Key, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("ledgerkey: not a signed-note signer key (PRIVATE+KEY+<name>+<id>+<base64>)")
	}
	fields := strings.SplitN(skey, "+", 5) // PRIVATE, KEY, name, id, key (base64 holds "+")
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("ledgerkey: not an Ed25519 signer key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	pub := priv.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: verifier key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: verifier key: %w", err)
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("ledgerkey: the signer key's hash does not match its key")
	}
	return &Key{name: signer.Name(), id: fmt.Sprintf("%08x", signer.KeyHash()), priv: priv, pub: pub,
		vkey: vkey, signer: signer, verifier: verifier}, nil
}

// Load reads the key in file.
func Load(file string) (*Key, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: read %s: %w", file, err)
	}
	k, err := Parse(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, file)
	}
	return k, nil
}

// LoadOrGenerate loads the key in file, or, when file does not exist,
// generates one named name and writes it there (mode 0600, never
// overwriting a file that appeared meanwhile). generated says which.
func LoadOrGenerate(file, name string) (k *Key, generated bool, err error) {
	k, err = Load(file)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, err = Generate(name)
	if err != nil {
		return nil, false, err
	}
	if err := k.write(file, os.O_CREATE|os.O_EXCL); err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// WriteNew writes k to file, which must not exist (mode 0600, synced).
func (k *Key) WriteNew(file string) error { return k.write(file, os.O_CREATE|os.O_EXCL) }

func (k *Key) write(file string, flag int) error {
	if dir := filepath.Dir(file); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("ledgerkey: write %s: %w", file, err)
		}
	}
	f, err := os.OpenFile(file, flag|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("ledgerkey: write %s: %w", file, err)
	}
	_, err = f.WriteString(k.signerKey() + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ledgerkey: write %s: %w", file, err)
	}
	return nil
}

// signerKey is the key's signer key string: the only place the private
// key is encoded, for its file.
func (k *Key) signerKey() string {
	raw := append([]byte{algEd25519}, k.priv.Seed()...)
	return fmt.Sprintf("PRIVATE+KEY+%s+%s+%s", k.name, k.id, base64.StdEncoding.EncodeToString(raw))
}

// Name is the key's name.
func (k *Key) Name() string { return k.name }

// ID is the key's 8-hex note key hash, the "key" of the events it signs.
func (k *Key) ID() string { return k.id }

// VerifierKey is the public verifier key "<name>+<id>+<base64>": what an
// auditor keeps to verify events and checkpoints.
func (k *Key) VerifierKey() string { return k.vkey }

// PublicKey is the Ed25519 public key.
func (k *Key) PublicKey() ed25519.PublicKey { return k.pub }

// Sign returns the Ed25519 signature of msg (an event's hex hash).
func (k *Key) Sign(msg []byte) []byte { return ed25519.Sign(k.priv, msg) }

// Signer is the key as a signed-note signer (checkpoints).
func (k *Key) Signer() note.Signer { return k.signer }

// Verifier is the key as a signed-note verifier.
func (k *Key) Verifier() note.Verifier { return k.verifier }

// String names the key by its verifier key, never its private part.
func (k *Key) String() string { return k.vkey }

// GoString is String, so that %#v does not print the private key either.
func (k *Key) GoString() string { return "ledgerkey.Key(" + k.vkey + ")" }

// ParseVerifierKey reads a verifier key ("<name>+<id>+<base64>") into its
// Ed25519 public key and 8-hex ID, for verification with the public key
// only.
func ParseVerifierKey(vkey string) (ed25519.PublicKey, string, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("ledgerkey: verifier key %q: %w", vkey, err)
	}
	fields := strings.SplitN(vkey, "+", 3) // name, id, key (base64 holds "+")
	raw, err := base64.StdEncoding.DecodeString(fields[len(fields)-1])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, "", fmt.Errorf("ledgerkey: verifier key %q is not an Ed25519 key", vkey)
	}
	return ed25519.PublicKey(bytes.Clone(raw[1:])), fmt.Sprintf("%08x", v.KeyHash()), nil
}

// DefaultFile is the key file beside (never inside) dataDir:
// "<data-dir>.signing-key".
func DefaultFile(dataDir string) string {
	return filepath.Clean(dataDir) + ".signing-key"
}
