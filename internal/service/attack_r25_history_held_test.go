package service_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// secretsOf are the strings of key's secrets that must never be printed:
// the key file's text, its base64 seed, and the key history's MAC key
// (hex and base64).
func secretsOf(t *testing.T, keyFile string) []string {
	t.Helper()
	b, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ledgerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	skey := strings.TrimSpace(string(b))
	fields := strings.SplitN(skey, "+", 5)
	mac, err := k.DeriveKey("key-history")
	if err != nil {
		t.Fatal(err)
	}
	return []string{skey, fields[len(fields)-1], hex.EncodeToString(mac), base64.StdEncoding.EncodeToString(mac),
		base64.RawStdEncoding.EncodeToString(mac)}
}

// legacyLedger is a ledger upgraded from a version before signing: two
// unsigned events, then the first start that signs (its key history takes
// them: unsigned through 2), a token created, stopped.
func legacyLedger(t *testing.T) (dir string) {
	t.Helper()
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	subj1, legacy1 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-10000000000000000000000000", "legacy-1")
	subj2, legacy2 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-20000000000000000000000000", "legacy-2")
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "data")
	createStreamOffline(t, dir)
	publishOffline(t, dir, subj1, legacy1)
	publishOffline(t, dir, subj2, legacy2)
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if h := readHistory(t, ledgerkey.DefaultFile(dir)); h.UnsignedThrough != 2 {
		t.Fatalf("key history unsigned through %d, want 2", h.UnsignedThrough)
	}
	return dir
}

// Held (atk-r25): the refusal of a rotated ledger without its key history,
// which names the --adopt-key-history value, and the adopted start's log
// carry none of the key's secrets (the key file's text or seed, the key
// history's MAC key); the value is a digest of the stream and public keys.
func TestTheAdoptionRefusalAndLogCarryNoSecret(t *testing.T) {
	dir, _, _ := startRotated(t, 1)
	keyFile := ledgerkey.DefaultFile(dir)
	if err := os.Remove(ledgerkey.HistoryFile(keyFile)); err != nil {
		t.Fatal(err)
	}
	secrets := secretsOf(t, keyFile)
	var logs servicetest.LogBuffer
	cfg := servicetest.Config(dir, nil, &logs)
	m := service.NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	_ = m.Close()
	if err == nil {
		t.Fatal("the start served without a key history, want a refusal")
	}
	value := adoptionValue(t, err)
	// A lingering wrong value is echoed: still nothing secret.
	var logs2 servicetest.LogBuffer
	cfg2 := servicetest.Config(dir, nil, &logs2)
	cfg2.AdoptKeyHistory = strings.Repeat("0", len(value))
	m2 := service.NewMain(cfg2)
	err2 := m2.Run(ctx)
	_ = m2.Close()
	if err2 == nil {
		t.Fatal("the start served with a wrong adoption value")
	}
	s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.AdoptKeyHistory = value })
	adoptedLogs := s.Logs()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"refusal": err.Error(), "refused start's log": logs.String(),
		"wrong value's refusal": err2.Error(), "wrong value's log": logs2.String(), "adopted start's log": adoptedLogs} {
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				t.Errorf("the %s holds a secret of the key (%.12s…)", name, sec)
			}
		}
	}
}

// Held (atk-r25): --rotate-signing-key on a ledger whose key history took
// unsigned events keeps unsigned-through and unsigned-root, lists the new
// key, and the stream then serves and verifies; the same rotation asked
// after the unsigned prefix was replanted (the kept tree head and snapshot
// removed) is refused with the key file and history untouched and nothing
// appended.
func TestARotationKeepsTheUnsignedPinsAndRefusesAReplantedPrefix(t *testing.T) {
	t.Run("genuine", func(t *testing.T) {
		dir := legacyLedger(t)
		keyFile := ledgerkey.DefaultFile(dir)
		before := readHistory(t, keyFile)
		s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
		s.CreateToken("client", "development")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		after := readHistory(t, keyFile)
		k1, err := ledgerkey.Load(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if after.UnsignedThrough != before.UnsignedThrough || after.UnsignedRoot != before.UnsignedRoot ||
			strings.Join(after.Keys, " ") != strings.Join(append(before.Keys, k1.VerifierKey()), " ") {
			t.Errorf("key history after the rotation = %+v, want %+v with the new key", after, before)
		}
		if code, stdout, stderr := verifyDataDirText(t, dir); code != cli.ExitOK {
			t.Errorf("verify --data-dir after the rotation: exit %d\n%s%s", code, stdout, stderr)
		}
		s = servicetest.Start(t, dir, nil)
		s.CreateToken("frontend", "development")
	})
	t.Run("replanted", func(t *testing.T) {
		dir := legacyLedger(t)
		keyFile := ledgerkey.DefaultFile(dir)
		other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
		forgedSubj, forged := forgeAdminToken(t, other, nil)
		subj2, legacy2 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-20000000000000000000000000", "legacy-2")
		if err := other.Close(); err != nil {
			t.Fatal(err)
		}
		histBefore, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
		keyBefore, _ := os.ReadFile(keyFile)
		wipeBesideDataDir(t, dir)
		createStreamOffline(t, dir)
		publishOffline(t, dir, forgedSubj, forged)
		publishOffline(t, dir, subj2, legacy2)

		cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
		cfg.RotateSigningKey = true
		m, runErr := runToStop(cfg, 3*time.Second)
		defer func() { _ = m.Close() }()
		t.Logf("start: %v", runErr)
		if te := events.AsTamper(runErr); te == nil {
			t.Errorf("start with --rotate-signing-key on a replanted prefix = %v, want a TamperError", runErr)
		}
		if m.Store != nil {
			if last, err := m.Store.LastSequence(context.Background()); err != nil || last != 2 {
				t.Errorf("the stream's last sequence after the start = %d (%v), want 2: nothing appended", last, err)
			}
		}
		if after, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile)); string(after) != string(histBefore) {
			t.Errorf("the start changed the key history")
		}
		if after, _ := os.ReadFile(keyFile); string(after) != string(keyBefore) {
			t.Errorf("the start changed the key file")
		}
		if _, err := os.Stat(keyFile + ".next"); err == nil {
			t.Errorf("the refused rotation left a next key beside the key file")
		}
	})
}
