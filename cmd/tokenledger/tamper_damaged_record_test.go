package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// Someone with write access to the stopped service's data dir flips a
// byte of the stored token.revoked: nats-server drops the record as
// corrupt. The revoked token must not validate again: the projections stop
// at that sequence, every API route answers 503, /health and /ready name
// the sequence and the kind, and the log says so at ERROR. A damaged
// newest record is reported, not waited on (STARTING forever).
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
			s := startService(t, "", nil)
			secret, id := s.createToken("backend", "development")
			s.must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, adminSecret, nil)
			evs, err := s.Store.Load(context.Background(), events.KindToken, id)
			if err != nil || len(evs) != 2 || evs[1].Type != events.TypeTokenRevoked {
				t.Fatalf("token events %v, %v", evs, err)
			}
			revoked := evs[1]
			if tt.after {
				s.createToken("client", "development")
			}
			if got := s.validSecrets(secret); len(got) != 0 {
				t.Fatalf("revoked token validates before the damage: %v", got)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}

			natstest.FlipStoredByte(t, s.dir, []byte(revoked.ID))
			s = startService(t, s.dir, nil)

			r := s.do("POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}})
			if r.Status != http.StatusServiceUnavailable {
				t.Fatalf("/edge/validate after the damage: %d %s, want 503", r.Status, r.Body)
			}
			s.must(http.StatusServiceUnavailable, "GET", "/api/admin/api-tokens", adminSecret, nil)
			for _, probe := range []struct {
				path   string
				status int
			}{{"/health", http.StatusOK}, {"/ready", http.StatusServiceUnavailable}} {
				body := s.must(probe.status, "GET", probe.path, "", nil).JSON(t)
				if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(revoked.Sequence) || body["kind"] != tt.kind {
					t.Errorf("%s = %v, want LEDGER_TAMPERED at sequence %d (%s)", probe.path, body, revoked.Sequence, tt.kind)
				}
			}
			logs := s.logs.String()
			if !strings.Contains(logs, `"level":"ERROR","msg":"ledger tampered`) || !strings.Contains(logs, `"kind":"`+tt.kind+`"`) {
				t.Errorf("no ERROR line naming the tampering:\n%s", logs)
			}
		})
	}
}
