package service_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/projections/feed"
	"github.com/tokenledger/tokenledger/projections/verifier"
)

// An embedded verifier following the real service's feed rejects a token
// once the DELETE of its project, environment, user or service account is
// acknowledged and the verifier reached the deletion's ledger sequence:
// the deletion reaches it in ledger order (what the ledger's own token set
// applies), not only as the token.revoked events recorded for it.
func TestVerifierRejectsTokenAfterDeletionIsAcknowledged(t *testing.T) {
	s := startWithReaders(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "gone", "name": "gone"})
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "staging", "type": "test"})
	projectTok, _ := s.CreateToken("client", "development", "gone")
	envTok, _ := s.CreateToken("backend", "staging")
	user := s.CreateUser("leaver", "Admin")
	sa := s.CreateServiceAccount("retired-ci", "Viewer")
	keep, _ := s.CreateToken("client", "development", "default")

	v, err := verifier.Connect(verifier.Connection{URL: s.NATSURL(), User: testReader, Password: testReaderPW}, verifier.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })

	cases := []struct {
		name, path, secret string
	}{
		{"project", "/api/admin/projects/gone", projectTok},
		{"environment", "/api/admin/environments/staging", envTok},
		{"user", "/api/admin/user-admin/" + strconv.Itoa(user.IntID), user.Secret},
		{"service account", "/api/admin/service-account/" + strconv.Itoa(sa.IntID), sa.Secret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			servicetest.WaitFor(t, 30*time.Second, func() error {
				_, err := v.Verify(tc.secret)
				return err
			})
			before := s.LastSeq()
			r := s.Must(http.StatusOK, "DELETE", tc.path, servicetest.AdminSecret, nil)
			acked, err := strconv.ParseUint(r.Header.Get("X-Ledger-Sequence"), 10, 64)
			if err != nil {
				t.Fatalf("X-Ledger-Sequence %q: %v", r.Header.Get("X-Ledger-Sequence"), err)
			}
			// The deletion is the batch's first event; the batch ends with
			// name releases, which the feed does not carry.
			seq := uint64(0)
			for _, e := range s.Events(before+1, acked) {
				if feed.IsDeletion(e.Type) {
					seq = e.Sequence
				}
			}
			if seq == 0 {
				t.Fatalf("no deletion among ledger sequences %d to %d", before+1, acked)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := v.WaitFor(ctx, seq); err != nil {
				t.Fatal(err)
			}
			// The acknowledged sequence itself (the batch's last event, not
			// one the feed carries) is reached too: the publisher's
			// heartbeat names it once the feed holds the deletion.
			if err := v.WaitFor(ctx, acked); err != nil {
				t.Fatalf("WaitFor(X-Ledger-Sequence %d): %v", acked, err)
			}
			if _, err := v.Verify(tc.secret); !errors.Is(err, verifier.ErrRevoked) {
				t.Fatalf("after the DELETE was acknowledged: Verify = %v, want ErrRevoked", err)
			}
			if _, err := v.Verify(keep); err != nil {
				t.Fatalf("an unrelated token: Verify = %v", err)
			}
		})
	}
}
