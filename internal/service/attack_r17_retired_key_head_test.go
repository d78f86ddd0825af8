package service_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/oklog/ulid/v2"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// The data dir variant of a retired key's forgery: the ledger rotated its
// key; whoever holds the retired one and can write the stopped ledger's
// data dir and the files beside it appends an event signed by the retired
// key, then replaces the signed tree head beside the dir by one of the
// whole stream signed by the retired key (and drops its leaves). The
// auditor gives every key of the chain, as the README asks. The head
// verified with a key given, so the events it covers skipped their
// signature check: verify said intact. A checkpoint signed by a key the
// chain had rotated away by its size proves nothing of the events'
// authorship: verify must check them one by one and name the forgery.
func TestVerifyDataDirRefusesAHeadSignedByTheRetiredKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		// rotateBack: a key.rotated back to the retired key first, signed
		// by it and linked to the genuine rotation: covered by the head, it
		// would make the retired key current again.
		rotateBack bool
	}{
		{"an event", false},
		{"a rotation back to the retired key, then an event", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retiredKeyHeadForgery(t, tc.rotateBack, false)
		})
	}
}

// Without --key (fromHistory), verify trusts the key file beside the data
// dir and its key history, which lists both keys.
func retiredKeyHeadForgery(t *testing.T, rotateBack, fromHistory bool) {
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
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	current, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil || current.ID() == retired.ID() {
		t.Fatalf("the key did not rotate: %v", err)
	}
	keys := []string{"--key", retired.VerifierKey(), "--key", current.VerifierKey(), "--json"}
	if fromHistory {
		keys = []string{"--json"}
	}
	if code, out, errOut := verifyDataDirText(t, dir, keys...); code != cli.ExitOK {
		t.Fatalf("the genuine data dir with both keys: exit %d %s %s", code, out, errOut)
	}

	forged, err := events.New(ulid.Make().String(), "p-backdoor", events.ProjectCreated{Name: "backdoor"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged.Actor = events.System
	if err := forged.SealFor(retired.ID()); err != nil {
		t.Fatal(err)
	}
	if err := forged.Sign(retired); err != nil {
		t.Fatal(err)
	}
	data, err := events.Marshal(&forged)
	if err != nil {
		t.Fatal(err)
	}
	var first uint64 // the first forged record
	if rotateBack {
		var genuine events.Envelope
		_, err := service.ReadDataDir(context.Background(), dir, func(service.StoredRecords) error { return nil },
			func(seq uint64, data []byte) error {
				if e, err := events.Unmarshal(data); err == nil && e.Type == events.TypeKeyRotated {
					genuine = e
				}
				return nil
			})
		if err != nil || genuine.Hash == "" {
			t.Fatalf("no genuine key.rotated: %v", err)
		}
		back, err := events.New(ulid.Make().String(), events.KeyAggregate,
			events.KeyRotated{Previous: current.VerifierKey(), Key: retired.VerifierKey()}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		back.Actor, back.Prev = events.System, genuine.Hash
		if err := back.SealFor(retired.ID()); err != nil {
			t.Fatal(err)
		}
		if err := back.Sign(retired); err != nil {
			t.Fatal(err)
		}
		raw, err := events.Marshal(&back)
		if err != nil {
			t.Fatal(err)
		}
		first = publishOfflineMsg(t, dir, &nats.Msg{Subject: back.Subject(), Data: raw})
	}
	seq := publishOfflineMsg(t, dir, &nats.Msg{Subject: forged.Subject(), Data: data})
	if first == 0 {
		first = seq
	}

	// The head of the whole stream, signed by the retired key.
	tree := integrity.NewTree()
	_, err = service.ReadDataDir(context.Background(), dir, func(service.StoredRecords) error { return nil },
		func(_ uint64, data []byte) error { return tree.Append(data) })
	if err != nil {
		t.Fatal(err)
	}
	root, err := tree.Root(tree.Size())
	if err != nil {
		t.Fatal(err)
	}
	head, err := integrity.SignCheckpoint(integrity.Checkpoint{Origin: retired.Name(), Size: tree.Size(), Root: root}, retired.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+".checkpoint", head, 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(dir + ".checkpoint" + integrity.LeavesSuffix)

	code, out, errOut := verifyDataDirText(t, dir, keys...)
	var rep struct {
		Kind string `json:"kind"`
		Seq  uint64 `json:"seq"`
	}
	_ = json.Unmarshal([]byte(out), &rep)
	if code != cli.ExitTampered || rep.Kind != "forgery" || rep.Seq != first {
		t.Fatalf("verify of the data dir with a head signed by the retired key: exit %d %s %s; want the event at %d named a forgery", code, out, errOut, first)
	}
}
