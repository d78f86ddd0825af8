package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/oklog/ulid/v2"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// r17Bundle starts a ledger, writes two tokens' lives, waits for a
// checkpoint of all of it and exports the whole-log bundle as the README's
// auditor does: the file, its bundle and the ledger's verifier key.
func r17Bundle(t *testing.T) (m *Main, file string, b *integrity.Bundle, vkey string) {
	t.Helper()
	m, _ = startLedger(t, filepath.Join(t.TempDir(), "data"), 4, func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	tokenLife(t, m, "a")
	tokenLife(t, m, "b")
	last, _ := m.Store.LastSequence(context.Background())
	waitCheckpoint(t, m, int64(last))
	file = filepath.Join(t.TempDir(), "ledger.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", file); code != 0 {
		t.Fatalf("export --bundle: exit %d %s", code, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b, err = integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m, file, b, m.VerifierKey()
}

// writeBundle writes b to a new file and returns its path.
func writeBundle(t *testing.T, b *integrity.Bundle) string {
	t.Helper()
	raw, err := integrity.MarshalBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "crafted.bundle.json")
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// terminalControl returns the first rune of s a terminal would act on or
// that reorders what it shows (a C0 or C1 control other than newline and
// tab, DEL, a format character such as a bidi override), or -1.
func terminalControl(s string) rune {
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return r
		}
	}
	return -1
}

// retiredKeyForgery is a project.created the ledger never wrote, sealed
// and signed by key (the retired key an attacker kept), as stored bytes.
func retiredKeyForgery(t *testing.T, key *ledgerkey.Key) []byte {
	t.Helper()
	forged, err := events.New(ulid.Make().String(), uuid.NewString(), events.ProjectCreated{Name: "backdoor"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged.Actor = events.System
	if err := forged.SealFor(key.ID()); err != nil {
		t.Fatal(err)
	}
	if err := forged.Sign(key); err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// rotatedLedger runs a ledger in dir (a checkpoint every 20 ms) through
// one token's life, calls before on it (nil: nothing), stops it, and
// starts it again rotating its signing key, through another token's life
// up to a checkpoint of every event. It returns the running ledger and
// the retired key (the attacker's copy).
func rotatedLedger(t *testing.T, dir string, before func(*Main)) (*Main, *ledgerkey.Key) {
	t.Helper()
	m, _ := startLedger(t, dir, 4, func(c *Config) { c.CheckpointInterval = 20 * time.Millisecond })
	tokenLife(t, m, "before")
	if before != nil {
		before(m)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	retired, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	m, _ = startLedger(t, dir, 4, func(c *Config) {
		c.CheckpointInterval = 20 * time.Millisecond
		c.RotateSigningKey = true
	})
	tokenLife(t, m, "after")
	last, _ := m.Store.LastSequence(context.Background())
	waitCheckpoint(t, m, int64(last))
	if m.VerifierKey() == retired.VerifierKey() {
		t.Fatal("the key did not rotate")
	}
	return m, retired
}
