package service_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The retired-key fix must not make a genuine ledger fail. A ledger that
// rotated its key twice or more, with checkpoints before and after each
// rotation (each clean stop appends one), verifies intact from its data
// dir with every key of the chain given, in either order, and with the
// tree head kept before the first rotation as --since-checkpoint. Every
// checkpoint must count: the check of the rotations a checkpoint covers
// read a verifier key's base64 from its last '+', and about one key in two
// holds a '+' there; the checkpoints after such a rotation were refused as
// the retired key's, verify printed a pre-rotation checkpoint to keep for
// --since-checkpoint (the next audit then misses a truncation after it) and
// checked every later event one by one.
func TestVerifyDataDirOfALedgerRotatedTwiceIsIntactWithEveryKey(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	dir := s.Config.DataDir
	var vkeys []string
	var firstHead []byte
	plus := false // a key whose base64 holds '+' (about one key in two)
	for round := 0; round < 3 || (!plus && round < 12); round++ {
		if round > 0 {
			s = servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
		}
		s.CreateToken("backend", "development")
		s.CreateToken("client", "development")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		k, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
		if err != nil {
			t.Fatal(err)
		}
		vkeys = append(vkeys, k.VerifierKey())
		if round > 0 && strings.Contains(strings.SplitN(k.VerifierKey(), "+", 3)[2], "+") {
			plus = true
		}
		if round == 0 {
			if firstHead, err = os.ReadFile(dir + ".checkpoint"); err != nil || len(firstHead) == 0 {
				t.Fatalf("no tree head kept before the first rotation: %v", err)
			}
		}
	}
	if vkeys[0] == vkeys[1] || vkeys[1] == vkeys[2] || !plus {
		t.Fatalf("the key did not rotate twice to a key with '+' in its base64: %v", vkeys)
	}
	var keys []string
	for _, k := range vkeys {
		keys = append(keys, "--key", k)
	}
	var newest []string
	for i := len(vkeys) - 1; i >= 0; i-- {
		newest = append(newest, "--key", vkeys[i])
	}
	since := filepath.Join(t.TempDir(), "kept.checkpoint")
	if err := os.WriteFile(since, firstHead, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"keys in chain order", keys},
		{"keys newest first", newest},
		{"with the head kept before the first rotation", append(keys[:len(keys):len(keys)], "--since-checkpoint", since)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := verifyDataDirText(t, dir, append(tc.args, "--json")...)
			var rep struct {
				Intact      bool   `json:"intact"`
				Checkpoints int    `json:"checkpoints"`
				Proven      int64  `json:"proven"`
				LastSeq     uint64 `json:"lastSeq"`
			}
			_ = json.Unmarshal([]byte(out), &rep)
			// Each clean stop's checkpoint counts, and the newest proves
			// the records up to it (the one printed to keep).
			if code != cli.ExitOK || !rep.Intact || rep.Checkpoints < len(vkeys) || rep.Proven+1 < int64(rep.LastSeq) {
				t.Fatalf("verify --data-dir of a ledger rotated %d times: exit %d %s %s; want every checkpoint counted, the newest proving %d", len(vkeys)-1, code, out, errOut, rep.LastSeq-1)
			}
		})
	}
}
