package service_test

import (
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

// The holder of a retired key (a backup of the old key file, a replica's
// copy: the r17 series' attacker) who can also write the stopped ledger's
// data dir and its parent. The ledger rotated K0 → K1 and signed on with
// K1. The attacker removes the data dir, the kept tree head and the
// snapshot (wipeBesideDataDir keeps the key file and its history, both
// untouched) and writes a new stream: an admin token.created signed by
// K0, then a key.rotated K0 → K1 signed by K0, and nothing after it.
//
// Every rule the start applies holds: the first signed event is by K0,
// which the key history lists; the rotation is signed by the key it
// retires and names the key file's key; the chain ends at the key file's
// key; nothing is unsigned. The key history lists which keys the ledger
// signed with but not where each one's reign ended, so a retired key
// rewrites everything before its rotation (and the K1 events after it are
// simply cut). The start must refuse the stream, with the key file and
// its history untouched, and the planted admin token must never reach the
// token set; verify --data-dir (which trusts the same history) must not
// call it intact.
//
// Found (atk-r25), not fixed: verify --data-dir says intact, the start
// serves and the planted admin token authenticates. Fix idea: at each
// rotation the key history also pins the sequence of the key.rotated and
// the tree hash of records 1..it ("rotated-root N <hash>", sealed with the
// rest; a crash before it is written pins it at the next start, as the
// unsigned-root of an older history); the start and verify refuse a
// stream whose records 1..N hash otherwise or that ends before N. To keep
// the start's cost, check it against the tree the replay (or the restored
// snapshot's tree, then the whole-log check) builds anyway, not by a
// second read of the stream as unsigned-root does.
func TestARetiredKeyCannotRewriteTheStreamUpToItsRotation(t *testing.T) {
	t.Skip("known defect (atk-r25): the key history does not pin where a retired key's reign ended; a retired key rewrites the stream up to its rotation (see the comment)")
	dir := filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	k0, err := ledgerkey.Load(keyFile) // the key that will be retired, kept by the attacker
	if err != nil {
		t.Fatal(err)
	}
	s = servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
	s.CreateToken("client", "development")
	forgedSubj, forged := forgeAdminTokenBy(t, s, k0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	k1, err := ledgerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if h := readHistory(t, keyFile); strings.Join(h.Keys, " ") != k0.VerifierKey()+" "+k1.VerifierKey() {
		t.Fatalf("key history lists %v, want K0 and K1", h.Keys)
	}
	histBefore, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
	keyBefore, _ := os.ReadFile(keyFile)

	wipeBesideDataDir(t, dir)
	createStreamOffline(t, dir)
	publishOffline(t, dir, forgedSubj, forged)
	rotSubj, rot := signedRotation(t, k0, k0.VerifierKey(), k1.VerifierKey())
	publishOffline(t, dir, rotSubj, rot)

	code, stdout, stderr := verifyDataDirText(t, dir)
	t.Logf("verify --data-dir: exit %d\n%s%s", code, stdout, stderr)
	if code == cli.ExitOK {
		t.Errorf("verify --data-dir calls a stream rewritten by the retired key intact")
	}

	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	m, runErr := runToStop(cfg, 3*time.Second)
	defer func() { _ = m.Close() }()
	t.Logf("start: %v", runErr)
	if m.Tokens != nil {
		if _, ok := m.Tokens.Lookup(forgedAdminSecret); ok {
			t.Errorf("the admin token signed by the retired key before its (replayed) rotation reached the token set")
		}
	}
	if runErr == nil {
		t.Errorf("the start served a stream the retired key wrote up to its rotation")
	} else if te := events.AsTamper(runErr); te == nil {
		t.Logf("the start's refusal is not a TamperError: %v", runErr)
	}
	if after, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile)); string(after) != string(histBefore) {
		t.Errorf("the start changed the key history")
	}
	if after, _ := os.ReadFile(keyFile); string(after) != string(keyBefore) {
		t.Errorf("the start changed the key file")
	}
}
