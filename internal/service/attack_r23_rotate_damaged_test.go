package service_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A record damaged in the stopped ledger's data dir (nats-server drops it
// as corrupt) met by the start's check before --rotate-signing-key: the
// start must refuse promptly (not wait out the check's hour for a record
// that never comes), name the sequence, and leave the key file, .next and
// the stream as they were (atk-r23: held).
func TestTheStartNeverRotatesOverADamagedRecord(t *testing.T) {
	for _, tt := range []struct {
		name   string
		newest bool
		kind   string
	}{
		{"in_the_middle", false, events.TamperGap},
		{"the_newest_record", true, events.TamperUnreadable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			_, id := s.CreateToken("backend", "development")
			evs, err := s.Store.Load(context.Background(), events.KindToken, id)
			if err != nil || len(evs) != 1 {
				t.Fatalf("token events %v, %v", evs, err)
			}
			damaged := evs[0]
			s.CreateToken("client", "development")
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			dir := s.Config.DataDir
			if tt.newest {
				damaged = newestRecord(t, dir)
			}
			natstest.FlipStoredByte(t, dir, []byte(damaged.ID))
			keyFile := ledgerkey.DefaultFile(dir)
			before, err := os.ReadFile(keyFile)
			if err != nil {
				t.Fatal(err)
			}

			logs := &servicetest.LogBuffer{}
			cfg := servicetest.Config(dir, nil, logs)
			cfg.RotateSigningKey = true
			m := service.NewMain(cfg)
			t.Cleanup(func() { _ = m.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			runErr := m.Run(ctx)
			t.Logf("start with --rotate-signing-key, record %d damaged: %v (%s)", damaged.Sequence, runErr, time.Since(start))
			if te := events.AsTamper(runErr); te == nil || te.Seq != damaged.Sequence || te.Kind != tt.kind {
				t.Errorf("start = %v, want a TamperError at sequence %d (%s)\n%s", runErr, damaged.Sequence, tt.kind, logs.String())
			}
			if after, _ := os.ReadFile(keyFile); string(after) != string(before) {
				t.Error("the key file changed")
			}
			if _, err := os.Stat(keyFile + ".next"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s.next: %v, want none", keyFile, err)
			}
			if m.Store != nil {
				if rot, err := m.Store.Load(ctx, events.KindLog, events.KeyAggregate); err != nil || len(rot) != 0 {
					t.Errorf("key.rotated events: %d (%v), want none", len(rot), err)
				}
			}
		})
	}
}
