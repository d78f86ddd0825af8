package service

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// A ledger rotated its signing key (serve --rotate-signing-key), and the
// README tells the auditor of a bundle from sequence 1 to give every key
// of the chain (the checkpoints before the rotation are signed by the old
// one). The old key is retired, not destroyed everywhere: a backup of its
// file, a replica's copy. Whoever holds it takes a genuine bundle, keeps
// every record (the rotation included), appends an event of their own (a
// project here; an admin token alike) signed by the old key, and signs a checkpoint of the longer tree
// with the old key. Every record sits under that signed root and the
// chains hold, so verify said "intact, complete". But after the rotation
// the ledger signs with the new key only: verify must name the appended
// event a forgery, as --data-dir does for an event after the last
// checkpoint.
func TestVerifyBundleRefusesRecordsAfterARotationSignedByTheRetiredKey(t *testing.T) {
	m, retired := rotatedLedger(t, filepath.Join(t.TempDir(), "data"), nil)
	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", file); code != 0 {
		t.Fatalf("export --bundle: exit %d %s", code, errOut)
	}
	keys := []string{"--key", retired.VerifierKey(), "--key", m.VerifierKey()}
	if code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", file}, keys...)...); code != cli.ExitOK {
		t.Fatalf("the genuine bundle with both keys: exit %d %s %s", code, out, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := integrity.ReadBundle(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}

	// The forgery: every genuine record, then an event signed by the
	// retired key, under a checkpoint the retired key signs.
	data := retiredKeyForgery(t, retired)
	var recs [][]byte
	for _, e := range genuine.Events {
		recs = append(recs, e.Data)
	}
	recs = append(recs, data)
	tree := integrity.NewTree()
	for _, r := range recs {
		if err := tree.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	root, err := tree.Root(tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	cp := integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: root}
	signed, err := integrity.SignCheckpoint(cp, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	b, err := integrity.BuildBundle(tree, cp, signed, 1, uint64(len(recs)), 0, func(seq uint64) ([]byte, error) { return recs[seq-1], nil })
	if err != nil {
		t.Fatal(err)
	}
	seq := uint64(len(recs))
	code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", writeBundle(t, b), "--json"}, keys...)...)
	var rep struct {
		Kind string `json:"kind"`
		Seq  uint64 `json:"seq"`
	}
	_ = json.Unmarshal([]byte(out), &rep)
	if code != cli.ExitTampered || rep.Kind != "forgery" || rep.Seq != seq {
		t.Fatalf("verify of a bundle extended with the retired key: exit %d %s %s; want the event at %d named a forgery", code, out, errOut, seq)
	}
}
