package service

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// The first step of a two-step forgery by the retired key's holder: they
// hand the auditor a bundle of the whole genuine log from sequence 1, its
// anchor re-signed by the retired key. Every record is genuine, so verify
// said intact, and printed that anchor as the checkpoint to keep for
// --since-checkpoint: the next audit then starts the key chain at the
// retired key and takes a range of records it signs. A checkpoint of a
// size past the rotation signed by the retired key is not the ledger's:
// verify must not call it intact nor hand it over to keep.
func TestVerifyBundleFromOneRefusesAnAnchorTheRetiredKeySigns(t *testing.T) {
	m, retired := rotatedLedger(t, filepath.Join(t.TempDir(), "data"), nil)
	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	if code, _, errOut := runCLI(t, "export", "--server", m.URL(), "--bundle", file); code != 0 {
		t.Fatalf("export --bundle: exit %d %s", code, errOut)
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	genuine, err := integrity.ReadBundle(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	var recs [][]byte
	for _, e := range genuine.Events {
		recs = append(recs, e.Data)
	}
	tree := integrity.NewTree()
	for _, r := range recs {
		if err := tree.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	root, _ := tree.Root(tree.Size())
	cp := integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: root}
	signed, err := integrity.SignCheckpoint(cp, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	b, err := integrity.BuildBundle(tree, cp, signed, 1, uint64(len(recs)), 0, func(seq uint64) ([]byte, error) { return recs[seq-1], nil })
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"--key", retired.VerifierKey(), "--key", m.VerifierKey()}
	code, out, errOut := runCLI(t, append([]string{"verify", "--bundle", writeBundle(t, b), "--json"}, keys...)...)
	var rep struct {
		Intact     bool   `json:"intact"`
		Checkpoint string `json:"checkpoint"`
	}
	_ = json.Unmarshal([]byte(out), &rep)
	if code == cli.ExitOK || rep.Intact || rep.Checkpoint == string(signed) {
		t.Fatalf("verify of a genuine log under an anchor the retired key signs: exit %d %s %s; want it refused, the anchor not kept", code, out, errOut)
	}

	// A range from 1 that ends before the anchor (export --to-seq): a
	// rotation after it would be unseen, so verify cannot refuse the
	// anchor, but it must not hand it over to keep either.
	part, err := integrity.BuildBundle(tree, cp, signed, 1, uint64(len(recs))-1, 0, func(seq uint64) ([]byte, error) { return recs[seq-1], nil })
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCLI(t, append([]string{"verify", "--bundle", writeBundle(t, part), "--json"}, keys...)...)
	rep.Checkpoint = ""
	_ = json.Unmarshal([]byte(out), &rep)
	if rep.Checkpoint == string(signed) {
		t.Fatalf("verify of a partial range under an anchor the retired key signs: exit %d %s %s; want the anchor not kept", code, out, errOut)
	}
}
