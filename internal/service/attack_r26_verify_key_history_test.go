package service_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The r25 attacker (holder of the retired key K0, who can write the
// stopped ledger's data dir and its parent) rewrites the stream up to
// K0's rotation, keeping the key file (K1) and its sealed history, whose
// pin names the stream the rotation proved. The start refuses it
// (TestARetiredKeyCannotRewriteTheStreamUpToItsRotation), and so does
// verify --data-dir without --key. An auditor who gives the ledger's
// keys, as the README asks ("Given only the newest key, give the older
// ones too": --key K0 --key K1), or the current key alone, must not be
// told the rewritten stream is intact either: the key file beside the
// data dir is the ledger's (its key is one given), and its history pins
// the stream all the same.
func TestVerifyDataDirWithKeysDoesNotCallARetiredKeyRewriteIntact(t *testing.T) {
	for _, padded := range []bool{false, true} {
		t.Run(map[bool]string{false: "shorter_than_the_pinned_stream", true: "as_long_as_the_pinned_stream"}[padded], func(t *testing.T) {
			dir, k0, k1 := plantRetiredKeyRewrite(t, padded)
			for _, keys := range []struct {
				name string
				args []string
			}{
				{"both_keys", []string{"--key", k0.VerifierKey(), "--key", k1.VerifierKey()}},
				{"the_current_key", []string{"--key", k1.VerifierKey()}},
			} {
				code, stdout, stderr := verifyDataDirText(t, dir, keys.args...)
				t.Logf("%s: verify --data-dir: exit %d\n%s%s", keys.name, code, stdout, stderr)
				if code == cli.ExitOK {
					t.Errorf("verify --data-dir %v calls a stream the retired key rewrote up to its rotation intact (the start refuses it; the key history beside %s pins it)",
						keys.name, ledgerkey.DefaultFile(dir))
				}
			}
		})
	}
}

// The same attacker also removes the key history beside the key file
// (they can write its directory). The start refuses: a key file without
// its history, on a stream whose key.rotated events name another key, is
// the case --adopt-key-history exists for, and the attacker cannot make
// its value come true for the ledger's operator by accident. verify
// --data-dir without --key, which trusts the same key file, must not call
// the rewritten stream intact where the start refuses it.
func TestVerifyDataDirWithoutTheKeyHistoryDoesNotCallARetiredKeyRewriteIntact(t *testing.T) {
	for _, padded := range []bool{false, true} {
		t.Run(map[bool]string{false: "shorter_than_the_pinned_stream", true: "as_long_as_the_pinned_stream"}[padded], func(t *testing.T) {
			dir, _, _ := plantRetiredKeyRewrite(t, padded)
			keyFile := ledgerkey.DefaultFile(dir)
			if err := os.Remove(ledgerkey.HistoryFile(keyFile)); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := verifyDataDirText(t, dir)
			t.Logf("verify --data-dir: exit %d\n%s%s", code, stdout, stderr)

			cfg := servicetest.Config(dir, nil, &servicetest.LogBuffer{})
			m, runErr := runToStop(cfg, 3*time.Second)
			defer func() { _ = m.Close() }()
			t.Logf("start: %v", runErr)
			if runErr == nil {
				t.Fatalf("the start served a stream the retired key wrote up to its rotation, its key history removed")
			}
			if code == cli.ExitOK {
				t.Errorf("verify --data-dir calls intact a stream the retired key rewrote up to its rotation, its key history removed; the start refuses it: %v", runErr)
			}
		})
	}
}

// The r24 attacker replants the unsigned prefix a ledger took when it
// began signing (an unsigned admin token.created in place of a legacy
// event; the kept tree head and snapshot removed, the key file and its
// history kept). The start refuses it (TestAReplantedUnsignedPrefixIsNeverAccepted);
// verify --data-dir with the ledger's key given must not call it intact:
// the history beside that key's file pins the unsigned records' tree hash.
func TestVerifyDataDirWithTheKeyDoesNotCallAReplantedUnsignedPrefixIntact(t *testing.T) {
	other := servicetest.Start(t, filepath.Join(t.TempDir(), "other"), nil)
	legacySubj1, legacy1 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-10000000000000000000000000", "legacy-1")
	legacySubj2, legacy2 := unsignedTokenCreated(t, other, "*:*.legacy-token-secret-20000000000000000000000000", "legacy-2")
	forgedSubj, forged := forgeAdminToken(t, other, nil)
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	createStreamOffline(t, dir)
	publishOffline(t, dir, legacySubj1, legacy1)
	publishOffline(t, dir, legacySubj2, legacy2)
	s := servicetest.Start(t, dir, nil) // the first start that signs: unsigned through 2, their root pinned
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	key, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	wipeBesideDataDir(t, dir)
	createStreamOffline(t, dir)
	publishOffline(t, dir, forgedSubj, forged)
	publishOffline(t, dir, legacySubj2, legacy2)

	code, stdout, stderr := verifyDataDirText(t, dir, "--key", key.VerifierKey())
	t.Logf("verify --data-dir --key: exit %d\n%s%s", code, stdout, stderr)
	if code == cli.ExitOK {
		t.Errorf("verify --data-dir --key (the ledger's) calls a replanted unsigned prefix intact; the key history beside its key file pins it")
	}
}

// The other side of applying the key history with --key: a genuinely
// rotated ledger, verified with the keys given (every key of the chain,
// or the current key alone, whose key file and history sit beside the
// data dir), is intact: no false alarm from the history's pins or anchors.
func TestVerifyDataDirWithKeysOfAGenuinelyRotatedLedgerIsIntact(t *testing.T) {
	for _, rotations := range []int{1, 2} {
		dir, vkeys, _ := startRotated(t, rotations)
		for _, args := range [][]string{
			{"--key", vkeys[len(vkeys)-1]},
			append([]string{}, flagEach("--key", vkeys)...),
		} {
			code, stdout, stderr := verifyDataDirText(t, dir, args...)
			if code != cli.ExitOK {
				t.Errorf("%d rotations, %d keys given: verify --data-dir: exit %d, want intact\n%s%s", rotations, len(args)/2, code, stdout, stderr)
			}
		}
	}
}

func flagEach(flag string, values []string) []string {
	var out []string
	for _, v := range values {
		out = append(out, flag, v)
	}
	return out
}
