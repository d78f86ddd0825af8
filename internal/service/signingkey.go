package service

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// signingKeyName is the name of generated ledger keys: the checkpoints'
// origin line and the first field of the verifier key.
const signingKeyName = "tokenledger"

// signingKey is the ledger's Ed25519 key as the checkpoints need it: a
// note signer and its public verifier key.
//
// It follows the issue 13 contract (docs/decisions.md): one key per
// ledger in a file beside the data dir, never inside it, holding a
// signed-note signer key; generated on first start with a WARN line
// giving the verifier key. internal/ledgerkey (h-seal) replaces this
// loader when it lands: the file format and location are the same.
type signingKey struct {
	signer note.Signer
	vkey   string
	path   string
}

// defaultSigningKeyFile is <data-dir>.signing-key: beside the data dir.
func defaultSigningKeyFile(dataDir string) string {
	return filepath.Clean(dataDir) + ".signing-key"
}

// loadSigningKey reads the key file, or creates it (mode 0600) with a new
// key when it does not exist. Errors never repeat the file's content.
func loadSigningKey(path, dataDir string, log *slog.Logger) (*signingKey, error) {
	if path == "" {
		path = defaultSigningKeyFile(dataDir)
	}
	if inside(path, dataDir) {
		return nil, fmt.Errorf("signing key %s: the key must live outside the data dir %s (whoever can write the data dir must not hold the key)", path, dataDir)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, signingKeyName)
		if err != nil {
			return nil, fmt.Errorf("signing key: generate: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", path, err)
		}
		_, werr := f.WriteString(skey + "\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("signing key %s: write: %w", path, werr)
		}
		log.Warn("GENERATED A NEW LEDGER SIGNING KEY: keep its verifier key; auditors check checkpoints and bundles with it; back up the key file, it never enters the stream",
			"key_file", path, "verifier_key", vkey)
		b = []byte(skey)
	} else if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	k, err := parseSigningKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	k.path = path
	return k, nil
}

// parseSigningKey reads a signer key ("PRIVATE+KEY+<name>+<hash>+<base64>")
// and derives its verifier key.
func parseSigningKey(skey string) (*signingKey, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, errors.New("not a signed-note signer key (PRIVATE+KEY+<name>+<hash>+<base64>)")
	}
	vkey, err := integrity.VerifierKeyOf(skey)
	if err != nil {
		return nil, err
	}
	return &signingKey{signer: signer, vkey: vkey}, nil
}

// inside reports whether path is dir or below it.
func inside(path, dir string) bool {
	p, err1 := filepath.Abs(path)
	d, err2 := filepath.Abs(dir)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
