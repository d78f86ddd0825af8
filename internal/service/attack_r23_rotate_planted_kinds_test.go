package service

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/ledgerkey/keytest"
)

// Planted rotations of other shapes than atk-r21's, appended to a stopped
// ledger's stream (the attacker edits its message block): right after a
// genuine rotation, two chained ones ending at the ledger's key, and one
// from a key made to share the ledger key's ID. With --rotate-signing-key
// the start refuses each as a forgery at a planted sequence, the key file
// unchanged, no .next, nothing appended (atk-r23: held).
func TestTheStartNeverRotatesPastPlantedRotationsOfOtherShapes(t *testing.T) {
	mallory, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	x, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	a, b := keytest.CollidingKeys(t, "r23")
	type plant struct {
		by  *ledgerkey.Key
		rot func(ledger string) events.KeyRotated
	}
	for _, tt := range []struct {
		name    string
		keyFile *ledgerkey.Key // written before the ledger's first start (nil: generated)
		rotated bool           // the ledger rotated once before the plant
		plants  []plant
	}{
		{name: "right_after_a_genuine_rotation", rotated: true, plants: []plant{
			{mallory, func(l string) events.KeyRotated { return events.KeyRotated{Previous: mallory.VerifierKey(), Key: l} }}}},
		{name: "two_chained_ending_at_the_ledgers_key", plants: []plant{
			{mallory, func(string) events.KeyRotated {
				return events.KeyRotated{Previous: mallory.VerifierKey(), Key: x.VerifierKey()}
			}},
			{x, func(l string) events.KeyRotated { return events.KeyRotated{Previous: x.VerifierKey(), Key: l} }}}},
		{name: "from_a_key_sharing_the_ledger_keys_id", keyFile: a, plants: []plant{
			{b, func(l string) events.KeyRotated { return events.KeyRotated{Previous: b.VerifierKey(), Key: l} }}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			keyFile := ledgerkey.DefaultFile(dir)
			if tt.keyFile != nil {
				if err := tt.keyFile.WriteNew(keyFile); err != nil {
					t.Fatal(err)
				}
			}
			var m *Main
			if tt.rotated {
				m, _ = rotatedLedger(t, dir, nil)
			} else {
				m, _ = startLedger(t, dir, 4)
				tokenLife(t, m, "before")
			}
			ledger := m.key.VerifierKey()
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			path, index, recs := readBlock(t, dir)
			prev := ""
			for _, r := range recs { // the key aggregate's chain, as the attacker reads it
				if env, err := events.Unmarshal(r.msg); err == nil && env.Type == events.TypeKeyRotated {
					prev = env.Hash
				}
			}
			var planted []uint64
			for _, p := range tt.plants {
				rot, err := events.New(ulid.Make().String(), events.KeyAggregate, p.rot(ledger), time.Now())
				if err != nil {
					t.Fatal(err)
				}
				rot.Actor, rot.Prev = events.System, prev
				if err := rot.SealFor(p.by.ID()); err != nil {
					t.Fatal(err)
				}
				if err := rot.Sign(p.by); err != nil {
					t.Fatal(err)
				}
				data, err := events.Marshal(&rot)
				if err != nil {
					t.Fatal(err)
				}
				last := recs[len(recs)-1]
				recs = append(recs, fsRecord{seq: last.seq + 1, ts: last.ts + 1, subj: rot.Subject(), msg: data})
				planted = append(planted, last.seq+1)
				prev = rot.Hash
			}
			writeBlock(t, dir, path, index, recs, true)
			last := recs[len(recs)-1].seq

			r, runErr := startRotating(t, dir)
			t.Logf("start with --rotate-signing-key, planted at %v: %v", planted, runErr)
			if te := events.AsTamper(runErr); te == nil || !slices.Contains(planted, te.Seq) || te.Kind != events.TamperForged {
				t.Errorf("start = %v, want a forgery named at a planted sequence %v", runErr, planted)
			}
			if after, _ := os.ReadFile(keyFile); !bytes.Equal(after, before) {
				t.Error("the start replaced the key file")
			}
			if _, err := os.Stat(keyFile + ".next"); !os.IsNotExist(err) {
				t.Errorf("%s.next exists (%v)", keyFile, err)
			}
			if r.Store != nil {
				if got, err := r.Store.LastSequence(context.Background()); err != nil || got != last {
					t.Errorf("last sequence after the start = %d (%v), want %d: nothing appended", got, err, last)
				}
			}
		})
	}
}
