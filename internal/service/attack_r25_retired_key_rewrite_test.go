package service_test

import (
	"fmt"
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
// Found (atk-r25). Fixed: at each rotation the key history pins the
// stream the check before it proved (its length and tree hash, "pinned N
// <hash>"). A shorter stream is refused before the replay; one as long
// whose records hash otherwise, once the projections caught up, before
// the ledger serves; verify --data-dir names either.
func TestARetiredKeyCannotRewriteTheStreamUpToItsRotation(t *testing.T) {
	for _, padded := range []bool{false, true} {
		t.Run(map[bool]string{false: "shorter_than_the_pinned_stream", true: "as_long_as_the_pinned_stream"}[padded], func(t *testing.T) {
			retiredKeyRewrite(t, padded)
		})
	}
}

func retiredKeyRewrite(t *testing.T, padded bool) {
	dir, _, _ := plantRetiredKeyRewrite(t, padded)
	keyFile := ledgerkey.DefaultFile(dir)
	histBefore, _ := os.ReadFile(ledgerkey.HistoryFile(keyFile))
	keyBefore, _ := os.ReadFile(keyFile)

	code, stdout, stderr := verifyDataDirText(t, dir)
	t.Logf("verify --data-dir: exit %d\n%s%s", code, stdout, stderr)
	if code == cli.ExitOK {
		t.Errorf("verify --data-dir calls a stream rewritten by the retired key intact")
	}

	cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
	m, runErr := runToStop(cfg, 3*time.Second)
	defer func() { _ = m.Close() }()
	t.Logf("start: %v", runErr)
	// A shorter stream is refused before the replay: the planted token
	// never reaches the token set. One as long is refused once the
	// projections caught up, before the ledger serves (as a stream that
	// does not extend the kept tree head): it reaches the token set of a
	// ledger that never serves, so it authenticates no one.
	if m.Tokens != nil && !padded {
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

// plantRetiredKeyRewrite runs a ledger that rotates K0 → K1, then plants
// (as retiredKeyRewrite says) the retired key's stream in its data dir:
// an admin token signed by K0 (padded: and fillers up to the pinned
// length), then K0's key.rotated to K1. The key file (K1) and its history
// are the ledger's, untouched.
func plantRetiredKeyRewrite(t *testing.T, padded bool) (dir string, k0, k1 *ledgerkey.Key) {
	dir = filepath.Join(t.TempDir(), "data")
	keyFile := ledgerkey.DefaultFile(dir)
	s := servicetest.Start(t, dir, nil)
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var err error
	k0, err = ledgerkey.Load(keyFile) // the key that will be retired, kept by the attacker
	if err != nil {
		t.Fatal(err)
	}
	s = servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
	s.CreateToken("client", "development")
	forgedSubj, forged := forgeAdminTokenBy(t, s, k0)
	// Tokens of the attacker's, signed by K0, to pad a stream with.
	type planted struct {
		subj string
		data []byte
	}
	var fillers []planted
	for i := range 20 {
		subj, data := forgeTokenBy(t, s, k0, fmt.Sprintf("*:*.filler-secret-%026d", i), fmt.Sprint("filler-", i))
		fillers = append(fillers, planted{subj, data})
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	k1, err = ledgerkey.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if h := readHistory(t, keyFile); strings.Join(h.Keys, " ") != k0.VerifierKey()+" "+k1.VerifierKey() {
		t.Fatalf("key history lists %v, want K0 and K1", h.Keys)
	}
	pinned := readHistory(t, keyFile).PinnedThrough
	if pinned == 0 {
		t.Fatal("the rotation pinned no stream")
	}
	wipeBesideDataDir(t, dir)
	createStreamOffline(t, dir)
	publishOffline(t, dir, forgedSubj, forged)
	// padded: tokens of the attacker's, signed by K0, up to the pinned
	// length, so that only the records' hash tells.
	for i := 2; padded && uint64(i) < pinned; i++ {
		if i-2 >= len(fillers) {
			t.Fatalf("the pinned stream (%d records) is longer than the fillers made", pinned)
		}
		publishOffline(t, dir, fillers[i-2].subj, fillers[i-2].data)
	}
	rotSubj, rot := signedRotation(t, k0, k0.VerifierKey(), k1.VerifierKey())
	publishOffline(t, dir, rotSubj, rot)

	return dir, k0, k1
}
