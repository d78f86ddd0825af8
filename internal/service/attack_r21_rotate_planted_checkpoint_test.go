package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// plantedRotation is a key.rotated the ledger never wrote: signed by
// mallory, naming mallory as the previous key and the ledger's key
// (ledgerVKey) as the new one. As the stream's only rotation it passes
// every check of setUpSigning that looks at the rotations alone.
func plantedRotation(t *testing.T, mallory *ledgerkey.Key, ledgerVKey string) (subject string, data []byte) {
	t.Helper()
	rot, err := events.New(ulid.Make().String(), events.KeyAggregate,
		events.KeyRotated{Previous: mallory.VerifierKey(), Key: ledgerVKey}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rot.Actor = events.System
	if err := rot.SealFor(mallory.ID()); err != nil {
		t.Fatal(err)
	}
	if err := rot.Sign(mallory); err != nil {
		t.Fatal(err)
	}
	if data, err = events.Marshal(&rot); err != nil {
		t.Fatal(err)
	}
	return rot.Subject(), data
}

// startRotating starts the service on dir with --rotate-signing-key and
// returns it (closed at the test's end) with Run's error.
func startRotating(t *testing.T, dir string) (*Main, error) {
	t.Helper()
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: io.Discard, RotateSigningKey: true})
	t.Cleanup(func() { _ = m.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return m, m.Run(ctx)
}

// The start checks every event's signature before it rotates, so where
// the planted rotation sits does not matter: before the last checkpoint
// (whose signed root would let a replay skip the signatures it covers)
// or after it, the start refuses to rotate, names the planted rotation's
// sequence, appends nothing and leaves the key file as it was (the
// attacker edits the message blocks of a stopped ledger, see
// tamper_test.go). The case after the checkpoint is the one atk-r21
// found (TestTheStartNeverRotatesPastAPlantedRotationNamingTheLedgersKey).
func TestTheStartNeverRotatesPastAPlantedRotationBeforeOrAfterTheLastCheckpoint(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		plant func(recs []fsRecord, subject string, data []byte) ([]fsRecord, int) // the records and the planted one's index
	}{
		{"before_the_last_checkpoint", func(recs []fsRecord, subject string, data []byte) ([]fsRecord, int) {
			// In place of a token's creation, keeping every sequence: the
			// last checkpoint stays where it verifies.
			i := seqOfType(t, recs, events.TypeTokenCreated, 2)
			recs[i].subj, recs[i].msg, recs[i].hdr, recs[i].hasHeader = subject, data, nil, false
			return recs, i
		}},
		{"after_the_last_checkpoint", func(recs []fsRecord, subject string, data []byte) ([]fsRecord, int) {
			last := recs[len(recs)-1]
			return append(recs, fsRecord{seq: last.seq + 1, ts: last.ts + 1, subj: subject, msg: data}), len(recs)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			keyFile := ledgerkey.DefaultFile(dir)
			key, err := ledgerkey.Load(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			path, index, recs := readBlock(t, dir)
			checkpoint := len(recs) - 1 // a clean stop's last record
			if env, err := events.Unmarshal(recs[checkpoint].msg); err != nil || env.Type != events.TypeCheckpoint {
				t.Fatalf("the stopped ledger's last record is not a checkpoint: %v", err)
			}
			subject, data := plantedRotation(t, mallory, key.VerifierKey())
			recs, planted := tt.plant(recs, subject, data)
			if tt.name == "before_the_last_checkpoint" && planted >= checkpoint || tt.name == "after_the_last_checkpoint" && planted <= checkpoint {
				t.Fatalf("planted at index %d, the last checkpoint is at %d", planted, checkpoint)
			}
			writeBlock(t, dir, path, index, recs, true)
			seq, last := recs[planted].seq, recs[len(recs)-1].seq

			m, runErr := startRotating(t, dir)
			if te := events.AsTamper(runErr); te == nil || te.Seq != seq || te.Kind != events.TamperForged {
				t.Errorf("start with --rotate-signing-key = %v, want a forgery named at the planted rotation's sequence %d", runErr, seq)
			}
			if after, _ := os.ReadFile(keyFile); !bytes.Equal(after, before) {
				t.Errorf("the start replaced the key file past the planted key.rotated at sequence %d", seq)
			}
			if _, err := os.Stat(keyFile + ".next"); !os.IsNotExist(err) {
				t.Errorf("%s.next exists (%v): the start began a rotation", keyFile, err)
			}
			if m.Store == nil {
				t.Fatal("the start did not open the store")
			}
			if got, err := m.Store.LastSequence(context.Background()); err != nil || got != last {
				t.Errorf("the stream's last sequence after the start = %d (%v), want %d: nothing appended", got, err, last)
			}
		})
	}
}

// A genuine ledger rotates twice in a row: each start with
// --rotate-signing-key checks the stream (the rotation before it too) and
// rotates, and the ledger then serves with the newest key. A start without
// the flag does not pay for the check.
func TestAGenuineLedgerRotatesItsSigningKeyTwiceInARow(t *testing.T) {
	const checkLine = "checking every event's signature before rotating the signing key"
	dir := t.TempDir() + "/data"
	m, logs := startLedger(t, dir, 4)
	tokenLife(t, m, "before")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), checkLine) {
		t.Errorf("a start without --rotate-signing-key checked the stream for a rotation:\n%s", logs.String())
	}
	vkeys := []string{m.key.VerifierKey()}
	for round := 1; round <= 2; round++ {
		m, logs = startLedger(t, dir, 4, func(c *Config) { c.RotateSigningKey = true })
		if !strings.Contains(logs.String(), checkLine) || !strings.Contains(logs.String(), "ROTATED THE LEDGER SIGNING KEY") {
			t.Fatalf("rotation %d: no check of the stream or no rotation in the logs:\n%s", round, logs.String())
		}
		tokenLife(t, m, fmt.Sprint("after-", round))
		vkeys = append(vkeys, m.key.VerifierKey())
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if vkeys[0] == vkeys[1] || vkeys[1] == vkeys[2] || vkeys[0] == vkeys[2] {
		t.Fatalf("the key did not rotate twice: %v", vkeys)
	}
	m, _ = startLedger(t, dir, 4)
	rotations, err := m.Store.Load(context.Background(), events.KindLog, events.KeyAggregate)
	if err != nil || len(rotations) != 2 {
		t.Fatalf("key.rotated events: %d (%v), want 2", len(rotations), err)
	}
	if m.key.VerifierKey() != vkeys[2] {
		t.Errorf("the ledger serves with key %s, want the newest %s", m.key.VerifierKey(), vkeys[2])
	}
	tokenLife(t, m, "last") // signed by the newest key, and accepted
}
