package service_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Someone with write access to the stopped service's data dir flips a
// byte of the stored token.revoked: nats-server drops the record as
// corrupt. The revoked token must not validate again: the projections stop
// at that sequence, every API route answers 503, /health and /ready name
// the sequence and the kind, and the log says so at ERROR. A damaged
// newest record is reported, not waited on (STARTING forever): since a
// clean shutdown appends a checkpoint, the newest record is that
// checkpoint, and the damage is done to it.
func TestDamagedRevocationNeverValidatesAgain(t *testing.T) {
	for _, tt := range []struct {
		name  string
		after bool // another event follows the revocation
		kind  string
	}{
		{"revocation_in_the_middle", true, events.TamperGap},
		{"revocation_is_the_newest_record", false, events.TamperUnreadable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := servicetest.Start(t, "", nil)
			secret, id := s.CreateToken("backend", "development")
			s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
			evs, err := s.Store.Load(context.Background(), events.KindToken, id)
			if err != nil || len(evs) != 2 || evs[1].Type != events.TypeTokenRevoked {
				t.Fatalf("token events %v, %v", evs, err)
			}
			revoked := evs[1]
			if tt.after {
				s.CreateToken("client", "development")
			}
			if got := validSecrets(s, secret); len(got) != 0 {
				t.Fatalf("revoked token validates before the damage: %v", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			damaged := revoked
			if !tt.after {
				damaged = newestRecord(t, s.Config.DataDir)
			}
			natstest.FlipStoredByte(t, s.Config.DataDir, []byte(damaged.ID))
			s = servicetest.Start(t, s.Config.DataDir, nil)

			r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}})
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("/edge/validate after the damage: %d %s, want 503", r.Status, r.Body)
			}
			s.Must(http.StatusServiceUnavailable, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
			for _, probe := range []struct {
				path   string
				status int
			}{{"/health", http.StatusOK}, {"/ready", http.StatusServiceUnavailable}} {
				body := s.Must(probe.status, "GET", probe.path, "", nil).JSON(t)
				if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(damaged.Sequence) || body["kind"] != tt.kind {
					t.Errorf("%s = %v, want LEDGER_TAMPERED at sequence %d (%s)", probe.path, body, damaged.Sequence, tt.kind)
				}
			}
			logs := s.Logs()
			if !strings.Contains(logs, `"level":"ERROR","msg":"ledger tampered`) || !strings.Contains(logs, `"kind":"`+tt.kind+`"`) {
				t.Errorf("no ERROR line naming the tampering:\n%s", logs)
			}
		})
	}
}

// newestRecord is the last event stored in the stopped ledger's data dir.
func newestRecord(t *testing.T, dir string) events.Envelope {
	t.Helper()
	var last events.Envelope
	_, err := service.ReadDataDir(context.Background(), dir, func(service.StoredRecords) error { return nil }, func(seq uint64, data []byte) error {
		e, err := events.Unmarshal(data)
		e.Sequence = seq
		last = e
		return err
	})
	if err != nil || last.ID == "" {
		t.Fatalf("read the data dir: %v", err)
	}
	return last
}

// validSecrets returns which of secrets /edge/validate answers as valid.
func validSecrets(s *servicetest.Service, secrets ...string) []string {
	s.T().Helper()
	var out struct {
		Tokens []struct {
			Token string `json:"token"`
		} `json:"tokens"`
	}
	r := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": secrets})
	if err := json.Unmarshal(r.Body, &out); err != nil {
		s.T().Fatal(err)
	}
	var valid []string
	for _, t := range out.Tokens {
		valid = append(valid, t.Token)
	}
	return valid
}
