package service_test

import (
	"context"
	"encoding/base64"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The ledger's own start against the holder of its retired key (passes:
// pins that a start trusts only the current key). The ledger rotated; the
// attacker stops it, appends a token.created of an admin token signed by
// the retired key, then a log.checkpoint of the whole stream (event and
// note signed by the retired key, linked to the genuine checkpoint chain),
// and replaces the tree head beside the data dir by one the retired key
// signs. The start must not let that checkpoint or head cover the forged
// event (trustLastCheckpoint takes only the current key; the whole-log
// check's snapshot is under the current key's MAC): the replay names it a
// forgery and the token authenticates nowhere.
func TestStartRefusesAnAdminTokenCoveredByTheRetiredKeysCheckpointAndHead(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	dir := s.Config.DataDir
	s.CreateToken("backend", "development")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	retired, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	s = servicetest.StartWith(t, dir, nil, func(c *service.Config) { c.RotateSigningKey = true })
	s.CreateToken("client", "development")
	subject, data := forgeAdminTokenBy(t, s, retired)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	forgedSeq := publishOffline(t, dir, subject, data)

	// The genuine checkpoint chain's last link, and the tree of the stream.
	var lastCheckpoint string
	tree := integrity.NewTree()
	_, err = service.ReadDataDir(context.Background(), dir, func(service.StoredRecords) error { return nil },
		func(_ uint64, data []byte) error {
			if e, err := events.Unmarshal(data); err == nil && e.Type == events.TypeCheckpoint {
				lastCheckpoint = e.Hash
			}
			return tree.Append(data)
		})
	if err != nil || lastCheckpoint == "" {
		t.Fatalf("read the data dir: %v (last checkpoint %q)", err, lastCheckpoint)
	}
	root, err := tree.Root(tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	cp := integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: root}
	note, err := integrity.SignCheckpoint(cp, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	ce, err := events.New(ulid.Make().String(), events.CheckpointAggregate,
		events.Checkpoint{Size: cp.Size, Root: base64.StdEncoding.EncodeToString(root[:]), Note: string(note)}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ce.Actor, ce.Prev = events.System, lastCheckpoint
	if err := ce.SealFor(retired.ID()); err != nil {
		t.Fatal(err)
	}
	if err := ce.Sign(retired); err != nil {
		t.Fatal(err)
	}
	raw, err := events.Marshal(&ce)
	if err != nil {
		t.Fatal(err)
	}
	if seq := publishOfflineMsg(t, dir, &nats.Msg{Subject: ce.Subject(), Data: raw}); seq != uint64(cp.Size)+1 {
		t.Fatalf("the planted checkpoint sits at %d, want %d", seq, cp.Size+1)
	}
	// The head of the whole stream, the planted checkpoint included.
	if err := tree.Append(raw); err != nil {
		t.Fatal(err)
	}
	hroot, _ := tree.Root(tree.Size())
	head, err := integrity.SignCheckpoint(integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: hroot}, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+".checkpoint", head, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(dir + ".checkpoint" + integrity.LeavesSuffix)

	s = servicetest.Start(t, dir, nil)
	refusesForgedAdmin(t, s, forgedSeq)
}

// forgeAdminTokenBy is forgeAdminToken sealed for and signed by key.
func forgeAdminTokenBy(t *testing.T, s *servicetest.Service, key *ledgerkey.Key) (string, []byte) {
	t.Helper()
	return forgeTokenBy(t, s, key, forgedAdminSecret, "backdoor")
}

// forgeTokenBy is forgeToken sealed for and signed by key.
func forgeTokenBy(t *testing.T, s *servicetest.Service, key *ledgerkey.Key, secret, name string) (string, []byte) {
	t.Helper()
	tok, ok := s.Tokens.Lookup(servicetest.AdminSecret)
	if !ok {
		t.Fatal("no admin token to copy")
	}
	evs, err := s.Store.Load(context.Background(), events.KindToken, tok.ID)
	if err != nil || len(evs) == 0 {
		t.Fatalf("admin token events: %v", err)
	}
	p, _ := evs[0].Payload()
	created := p.(events.TokenCreated)
	created.Verifier = events.VerifierHex(secret)
	created.Name = name
	f, err := events.New(ulid.Make().String(), uuid.NewString(), created, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	f.Actor, f.Via = evs[0].Actor, evs[0].Via
	if err := f.SealFor(key.ID()); err != nil {
		t.Fatal(err)
	}
	if err := f.Sign(key); err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	return f.Subject(), data
}
