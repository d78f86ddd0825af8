package service_test

import (
	"context"
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

// readHistory is the key history beside the ledger's key file.
func readHistory(t *testing.T, keyFile string) ledgerkey.History {
	t.Helper()
	b, err := os.ReadFile(ledgerkey.HistoryFile(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ledgerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	h, err := ledgerkey.OpenHistory(b, k)
	if err != nil {
		t.Fatalf("%v:\n%s", err, b)
	}
	return h
}

// startRotated starts a ledger on a new data dir, rotates its key rotations
// times (one start each) and returns the data dir and the keys (and their
// verifier keys), oldest first. The ledger is stopped.
func startRotated(t *testing.T, rotations int) (dir string, vkeys []string, keys []*ledgerkey.Key) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	for i := 0; i <= rotations; i++ {
		s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = i > 0 })
		s.CreateToken("backend", "development")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		k, err := ledgerkey.Load(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		vkeys, keys = append(vkeys, k.VerifierKey()), append(keys, k)
	}
	return dir, vkeys, keys
}

func TestTheKeyHistoryListsEveryKeyTheLedgerSignedWith(t *testing.T) {
	dir, vkeys, _ := startRotated(t, 2)
	h := readHistory(t, ledgerkey.DefaultFile(dir))
	if strings.Join(h.Keys, " ") != strings.Join(vkeys, " ") || h.UnsignedThrough != 0 {
		t.Errorf("key history = %+v, want the keys %v oldest first, unsigned through 0", h, vkeys)
	}
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development") // the newest key signs, the stream verifies
}

// startRefused starts a service on dir that must fail before it serves,
// and returns the error.
func startRefused(t *testing.T, dir string, change func(*service.Config)) error {
	t.Helper()
	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	if change != nil {
		change(&cfg)
	}
	m := service.NewMain(cfg)
	defer func() { _ = m.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		t.Fatal("the start served, want a refusal")
	}
	return err
}

func TestALedgerWithoutAKeyHistoryBeginsOneOnlyWhenTheStreamProvesItsKeys(t *testing.T) {
	t.Run("signed_from_its_first_event_by_the_key_file", func(t *testing.T) {
		dir, vkeys, _ := startRotated(t, 0)
		keyFile := ledgerkey.DefaultFile(dir)
		if err := os.Remove(ledgerkey.HistoryFile(keyFile)); err != nil { // a ledger of a version before key histories
			t.Fatal(err)
		}
		s := servicetest.Start(t, dir, nil)
		s.CreateToken("backend", "development")
		if h := readHistory(t, keyFile); strings.Join(h.Keys, " ") != vkeys[0] || h.UnsignedThrough != 0 {
			t.Errorf("key history = %+v, want the key file's key, unsigned through 0", h)
		}
	})
	t.Run("rotated_by_a_version_before_key_histories", func(t *testing.T) {
		dir, vkeys, _ := startRotated(t, 1)
		keyFile := ledgerkey.DefaultFile(dir)
		if err := os.Remove(ledgerkey.HistoryFile(keyFile)); err != nil {
			t.Fatal(err)
		}
		err := startRefused(t, dir, nil)
		if !strings.Contains(err.Error(), "--adopt-key-history") || !strings.Contains(err.Error(), vkeys[0]) {
			t.Errorf("start = %v, want a refusal naming the retired key and --adopt-key-history", err)
		}
		if _, err := os.Stat(ledgerkey.HistoryFile(keyFile)); err == nil {
			t.Errorf("a refused start wrote a key history")
		}
		s := servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.AdoptKeyHistory = adoptionValue(t, err) })
		if !strings.Contains(s.Logs(), "ADOPTED THE STREAM'S KEY CHAIN") {
			t.Errorf("no loud log line for the adopted key chain:\n%s", s.Logs())
		}
		last := s.LastSeq()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		h := readHistory(t, keyFile)
		if strings.Join(h.Keys, " ") != strings.Join(vkeys, " ") || h.UnsignedThrough == 0 || h.UnsignedThrough > last {
			t.Errorf("adopted key history = %+v, want %v, unsigned through the stream's last sequence at the start (≤ %d)", h, vkeys, last)
		}
		s = servicetest.Start(t, dir, nil) // no flag needed again
		s.CreateToken("backend", "development")
	})
	t.Run("a_node_given_the_key_a_rotation_made_elsewhere", func(t *testing.T) {
		dir, vkeys, keys := startRotated(t, 1)
		hfile := ledgerkey.HistoryFile(ledgerkey.DefaultFile(dir))
		rotated, err := os.ReadFile(hfile)
		if err != nil {
			t.Fatal(err)
		}
		// Its own history from before the rotation, sealed by its old key.
		b, err := ledgerkey.History{Keys: vkeys[:1]}.Seal(keys[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(hfile, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := startRefused(t, dir, nil); !strings.Contains(err.Error(), "copy it with the key file") {
			t.Errorf("start = %v, want a refusal asking for the key history that came with the key file", err)
		}
		if err := os.WriteFile(hfile, rotated, 0o600); err != nil { // copied from the node that rotated
			t.Fatal(err)
		}
		s := servicetest.Start(t, dir, nil)
		s.CreateToken("backend", "development")
		if h := readHistory(t, ledgerkey.DefaultFile(dir)); strings.Join(h.Keys, " ") != strings.Join(vkeys, " ") {
			t.Errorf("key history = %v, want %v", h.Keys, vkeys)
		}
	})
}

func TestAKeyHistoryTheKeyFileDidNotSealStopsTheStart(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		// history is the key history's content, given the ledger's key.
		history func(t *testing.T, key *ledgerkey.Key) []byte
	}{
		{"empty", func(*testing.T, *ledgerkey.Key) []byte { return nil }},
		{"unsealed", func(t *testing.T, key *ledgerkey.Key) []byte {
			b, _ := ledgerkey.History{Keys: []string{key.VerifierKey(), mallory.VerifierKey()}}.MarshalText()
			return b
		}},
		{"sealed_by_another_key", func(t *testing.T, key *ledgerkey.Key) []byte {
			b, _ := ledgerkey.History{Keys: []string{key.VerifierKey(), mallory.VerifierKey()}}.Seal(mallory)
			return b
		}},
		{"a_key_added_after_sealing", func(t *testing.T, key *ledgerkey.Key) []byte {
			b, _ := ledgerkey.History{Keys: []string{key.VerifierKey()}}.Seal(key)
			return []byte(strings.Replace(string(b), "\nmac ", "\nkey "+mallory.VerifierKey()+"\nmac ", 1))
		}},
		{"the_sequence_raised_after_sealing", func(t *testing.T, key *ledgerkey.Key) []byte {
			b, _ := ledgerkey.History{Keys: []string{key.VerifierKey()}}.Seal(key)
			return []byte(strings.Replace(string(b), "unsigned-through 0", "unsigned-through 9", 1))
		}},
		{"garbage", func(*testing.T, *ledgerkey.Key) []byte { return []byte("unsigned-through 0\nkey not-a-key\nmac x y\n") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, _, keys := startRotated(t, 0)
			hfile := ledgerkey.HistoryFile(ledgerkey.DefaultFile(dir))
			content := tc.history(t, keys[0])
			if err := os.WriteFile(hfile, content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := startRefused(t, dir, nil); !strings.Contains(err.Error(), "key history") {
				t.Errorf("start = %v, want an error naming the key history", err)
			}
			if b, _ := os.ReadFile(hfile); string(b) != string(content) {
				t.Errorf("the refused start rewrote the key history")
			}
		})
	}
}

// A stream of a version before signing holds unsigned events: the first
// start that signs (it generates the key) takes them as they are, nothing
// can prove who wrote them, and its key history says through which
// sequence. An unsigned event after that sequence is a forgery, even
// planted before the ledger signed anything after the start.
func TestTheUnsignedHistoryOfAVersionBeforeSigningIsTakenOnceAtTheFirstStartThatSigns(t *testing.T) {
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	subj, unsigned := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	createStreamOffline(t, dir)
	legacy := publishOffline(t, dir, subj, unsigned)

	s := servicetest.Start(t, dir, nil)
	if !strings.Contains(s.Logs(), "began the key history of a ledger whose events up to here are unsigned") {
		t.Errorf("no warning that unsigned events were taken:\n%s", s.Logs())
	}
	if _, ok := s.Tokens.Lookup(forgedAdminSecret); !ok {
		t.Errorf("the unsigned history's token (sequence %d) was not taken", legacy)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if h := readHistory(t, ledgerkey.DefaultFile(dir)); h.UnsignedThrough != legacy {
		t.Errorf("key history unsigned through %d, want %d", h.UnsignedThrough, legacy)
	}

	planted := publishOffline(t, dir, subj, unsigned) // the same unsigned event once more, after the ledger signed
	s = servicetest.Start(t, dir, nil)
	waitStopped(t, s)
	if te := events.AsTamper(s.Runner.Err()); te == nil || te.Seq != planted || te.Kind != events.TamperForged {
		t.Errorf("projections stopped with %v, want a forgery at %d", s.Runner.Err(), planted)
	}
}

// verify --data-dir without --key trusts the key file beside the data dir
// and its key history: it says when there is none, and refuses to verify
// with one the key file did not seal.
func TestVerifyDataDirTrustsTheKeyHistoryBesideTheKeyFile(t *testing.T) {
	dir, _, keys := startRotated(t, 0)
	hfile := ledgerkey.HistoryFile(ledgerkey.DefaultFile(dir))
	if code, _, stderr := verifyDataDirText(t, dir); code != cli.ExitOK || strings.Contains(stderr, "no key history") {
		t.Errorf("with the ledger's key history: exit %d, stderr %q", code, stderr)
	}
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ledgerkey.History{Keys: []string{keys[0].VerifierKey(), mallory.VerifierKey()}}.Seal(mallory)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hfile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := verifyDataDirText(t, dir); code != cli.ExitError || !strings.Contains(stderr, "not sealed by the key file's key") {
		t.Errorf("with a key history sealed by another key: exit %d, stderr %q; want %d naming the seal", code, stderr, cli.ExitError)
	}
	if err := os.Remove(hfile); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := verifyDataDirText(t, dir); code != cli.ExitOK || !strings.Contains(stderr, "no key history beside the key file") {
		t.Errorf("without a key history: exit %d, stderr %q; want %d and a note", code, stderr, cli.ExitOK)
	}
}

// runToStop starts a service with cfg and returns it (the caller closes
// it) with what stopped it: the start's error or, when it served, the
// projections' within wait (nil if they still run).
func runToStop(cfg service.Config, wait time.Duration) (*service.Main, error) {
	m := service.NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	if err == nil {
		for deadline := time.Now().Add(wait); m.Runner.Err() == nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
		}
		err = m.Runner.Err()
	}
	return m, err
}
