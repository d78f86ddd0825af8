package service_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// TestAReplicasTreeHeadCountsTheOtherReplicasWrites: two ledger replicas
// on a cluster, each keeping a signed tree head (--tree-head); a token
// created through one moves the other's head once the other applied it,
// and the head signs the same root as the writer's tree.
func TestAReplicasTreeHeadCountsTheOtherReplicasWrites(t *testing.T) {
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	headA, headB := filepath.Join(t.TempDir(), "a.head"), filepath.Join(t.TempDir(), "b.head")
	start := func(head string) *servicetest.Service {
		return servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
			cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
			cfg.SigningKey, cfg.TreeHead = key, head
			cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
		})
	}
	a := start(headA)
	start(headB)
	keys, err := integrity.Verifiers(a.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	r := a.Must(201, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "from-a", "type": "backend", "environment": "development"})
	seq, err := strconv.ParseInt(r.Header.Get("X-Ledger-Sequence"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	read := func(file string) integrity.Checkpoint {
		bs, err := os.ReadFile(file)
		if err != nil {
			return integrity.Checkpoint{}
		}
		cp, err := integrity.OpenCheckpoint(bs, keys)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		return cp
	}
	if got := read(headA); got.Size < seq {
		t.Fatalf("the writer's head counts %d records after its answer for sequence %d", got.Size, seq)
	}
	var got integrity.Checkpoint
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if got = read(headB); got.Size >= seq {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the other replica's head counts %d records; the write is at %d", got.Size, seq)
		}
	}
	root, err := a.Integrity.Tree().Root(got.Size)
	if err != nil || root != got.Root {
		t.Fatalf("the other replica's head of %d records signs %v, the writer's tree has %v (%v)", got.Size, got.Root, root, err)
	}
}
