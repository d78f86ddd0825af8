package service_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// rotate writes, in order: the key history listing the new key (sealed by
// the old key and the new one), <key file>.next, the key.rotated append,
// the rename of .next over the key file. A crash after each step, made
// here by leaving the files as that step left them: every restart starts
// (or names what is missing), and a rotation after it works.
func TestEveryCrashPointOfARotationRestartsCleanly(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withNext bool // .next written
	}{
		{name: "after_the_key_history"},
		{name: "after_the_next_key_file", withNext: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, vkeys, keys := startRotated(t, 0)
			keyFile := ledgerkey.DefaultFile(dir)
			next, err := ledgerkey.Generate(ledgerkey.DefaultName)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ledgerkey.History{Keys: []string{vkeys[0], next.VerifierKey()}}.Seal(keys[0], next)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(ledgerkey.HistoryFile(keyFile), b, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.withNext {
				if err := next.WriteNew(keyFile + ".next"); err != nil {
					t.Fatal(err)
				}
			}
			s := servicetest.Start(t, dir, nil)
			s.CreateToken("backend", "development") // the old key signs on
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
			s.CreateToken("client", "development")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			now, err := ledgerkey.Load(keyFile)
			if err != nil || now.ID() == keys[0].ID() || now.ID() == next.ID() {
				t.Fatalf("key file after the second rotation: %v (%v)", now, err)
			}
			if h := readHistory(t, keyFile); strings.Join(h.Keys, " ") != strings.Join([]string{vkeys[0], next.VerifierKey(), now.VerifierKey()}, " ") {
				t.Errorf("key history %v, want the old key, the never used one, the new one", h.Keys)
			}
			s = servicetest.Start(t, dir, nil)
			s.CreateToken("frontend", "development")
		})
	}

	// After the append, before the rename, with the key history from
	// before the rotation put back: the start finishes the rotation (the
	// stream names the new key) and then refuses the history, which the
	// new key did not seal; the right history makes it start.
	t.Run("after_the_append_with_the_old_key_history_put_back", func(t *testing.T) {
		dir, vkeys, _ := startRotated(t, 0)
		keyFile := ledgerkey.DefaultFile(dir)
		old, err := os.ReadFile(ledgerkey.HistoryFile(keyFile))
		if err != nil {
			t.Fatal(err)
		}
		oldKey, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		rotated, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
		newKey, _ := os.ReadFile(keyFile)
		if err := os.WriteFile(keyFile+".next", newKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, oldKey, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(ledgerkey.HistoryFile(keyFile), old, 0o600); err != nil {
			t.Fatal(err)
		}
		err = startRefused(t, dir, nil)
		if !strings.Contains(err.Error(), "key history") {
			t.Errorf("start = %v, want a refusal naming the key history", err)
		}
		if err := os.WriteFile(ledgerkey.HistoryFile(keyFile), rotated, 0o600); err != nil {
			t.Fatal(err)
		}
		s = servicetest.Start(t, dir, nil)
		s.CreateToken("backend", "development")
		if h := readHistory(t, keyFile); len(h.Keys) != 2 || h.Keys[0] != vkeys[0] {
			t.Errorf("key history %v", h.Keys)
		}
	})
}
