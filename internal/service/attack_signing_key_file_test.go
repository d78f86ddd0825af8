package service_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
)

// The ledger's signing key is what makes its history unforgeable; the
// README asks for it "beside the data dir, never inside it; mode 0600".
// A key file every local user can read (a copy made with cp, an archive
// restored with a umask of 022) is a leaked key waiting to happen: the
// ledger must refuse it, or at least say so loudly, as ssh does for a
// private key other users can read.
func TestSigningKeyFileReadableByOthersIsNotSilentlyUsed(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o604, 0o640} {
		t.Run(mode.String(), func(t *testing.T) {
			keyFile := filepath.Join(t.TempDir(), "ledger.signing-key")
			k, err := ledgerkey.Generate(ledgerkey.DefaultName)
			if err != nil {
				t.Fatal(err)
			}
			if err := k.WriteNew(keyFile); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(keyFile, mode); err != nil {
				t.Fatal(err)
			}
			logs, err := tryStart(t, func(c *service.Config) { c.SigningKey = keyFile })
			if err == nil && !mentionsKeyMode(logs) {
				t.Errorf("the ledger started with a signing key file of mode %s without a word about it", mode)
			}
		})
	}
}

// mentionsKeyMode reports whether a WARN or ERROR line speaks of the key
// file's permissions.
func mentionsKeyMode(logs string) bool {
	for _, l := range strings.Split(logs, "\n") {
		if (strings.Contains(l, `"level":"WARN"`) || strings.Contains(l, `"level":"ERROR"`)) &&
			strings.Contains(l, "signing key") && (strings.Contains(l, "mode") || strings.Contains(l, "permission") || strings.Contains(l, "readable")) {
			return true
		}
	}
	return false
}

// --signing-key outside the data dir may still be a symlink to a file
// inside it: the key then travels with every copy of the data dir, which
// the ledger refuses when the path itself is inside ("a copy of the data
// dir must not carry the key that proves it").
func TestSigningKeySymlinkIntoTheDataDirIsRefused(t *testing.T) {
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	inside := filepath.Join(dataDir, "key")
	k, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.WriteNew(inside); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "ledger.signing-key")
	if err := os.Symlink(inside, link); err != nil {
		t.Fatal(err)
	}
	_, err = tryStart(t, func(c *service.Config) { c.DataDir, c.SigningKey = dataDir, link })
	if err == nil || !strings.Contains(err.Error(), "inside the data dir") {
		t.Errorf("start with --signing-key a symlink into the data dir: %v, want a refusal naming the data dir", err)
	}
}
