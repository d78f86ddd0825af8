package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
)

// Verifiers are unsalted SHA-256, so a reader of the feed can try guesses
// offline against any verifier it is given. Admin tokens are hand-chosen
// (INIT_ADMIN_API_TOKENS) and administer the ledger, which no reader
// has a use for: the feed carries an admin token's creation (its
// revocation must apply) without its verifier. A reader who guesses the
// operator's admin secret (here one copied from a how-to, long enough to
// pass the start-up check) finds nothing to match it against. A backend
// token's verifier, which services following the feed verify, is still
// carried.
func TestReaderCannotRecoverAnAdminSecretFromTheFeed(t *testing.T) {
	const (
		adminSecret   = "*:*.copied-from-a-howto-admin-token-for-tokenledger"
		backendSecret = "default:development.copied-from-a-howto-backend-token-0001"
	)
	s := startWithReaders(t, "", func(c *service.Config) {
		getenv := c.Getenv
		c.Getenv = func(k string) string {
			switch k {
			case "INIT_ADMIN_API_TOKENS":
				return getenv(k) + "," + adminSecret
			case "INIT_BACKEND_API_TOKENS":
				return backendSecret
			}
			return getenv(k)
		}
	})
	if r := s.Do("GET", "/api/admin/user-admin", "Bearer "+adminSecret, nil); r.Status != http.StatusOK {
		t.Fatalf("the admin secret does not work over HTTP (%d): the test proves nothing", r.Status)
	}

	dictionary := map[string]string{}
	for _, c := range []string{adminSecret, backendSecret} {
		sum := sha256.Sum256([]byte(c))
		dictionary[hex.EncodeToString(sum[:])] = c
	}
	rd, _ := reader(s, t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := s.LastSeq()
	found := map[string]bool{}
	admins := 0
	err := jsstore.FollowFeed(ctx, rd, 1, func(e jsstore.FeedEvent) error {
		var env struct {
			Type string              `json:"type"`
			Data events.TokenCreated `json:"data"`
		}
		if err := json.Unmarshal(e.Data, &env); err != nil {
			return err
		}
		if env.Type == events.TypeTokenCreated && env.Data.TokenType == events.TokenAdmin {
			admins++
			if env.Data.Verifier != "" {
				t.Errorf("the feed carries admin token %q's verifier", env.Data.Name)
			}
		}
		if secret, ok := dictionary[env.Data.Verifier]; ok {
			found[secret] = true
		}
		if e.LedgerSequence >= want {
			cancel()
		}
		return nil
	})
	if ctx.Err() == nil {
		t.Fatalf("FollowFeed = %v", err)
	}
	if admins == 0 {
		t.Fatal("the feed carried no admin token's creation: a revocation of one could not apply")
	}
	if found[adminSecret] {
		t.Fatal("a NATS reader matched the admin secret against its verifier in the feed")
	}
	if !found[backendSecret] {
		t.Fatal("the feed no longer carries a backend token's verifier: services following it cannot verify backend tokens")
	}
}

// Unleash's documentation and docker-compose files publish quick-start
// secrets (unleash-insecure-…): anyone with a verifier tries them first.
// The ledger refuses to start with one in any INIT_* variable, and with a
// weak admin secret (short, or a few characters repeated); the error
// names the variable, never the secret. A short backend secret is only
// warned about, as before.
func TestStartRefusesAWellKnownOrWeakBootstrapSecret(t *testing.T) {
	tests := []struct {
		name, variable, secret string
		refused                bool
	}{
		{"unleash_quick_start_admin", "INIT_ADMIN_API_TOKENS", "*:*.unleash-insecure-admin-api-token", true},
		{"unleash_quick_start_backend", "INIT_BACKEND_API_TOKENS", "default:development.unleash-insecure-api-token", true},
		{"unleash_quick_start_client", "INIT_CLIENT_API_TOKENS", "*:development.unleash-insecure-api-token", true},
		{"unleash_quick_start_frontend", "INIT_FRONTEND_API_TOKENS", "default:development.unleash-insecure-frontend-api-token", true},
		{"short_admin", "INIT_ADMIN_API_TOKENS", "*:*.admin-password-1", true},
		{"repeated_admin", "INIT_ADMIN_API_TOKENS", "*:*." + strings.Repeat("ab", 24), true},
		{"short_backend_is_warned_about", "INIT_BACKEND_API_TOKENS", "default:development.backend-1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs, err := tryStart(t, func(c *service.Config) {
				getenv := c.Getenv
				c.Getenv = func(k string) string {
					if k == tt.variable {
						if v := getenv(k); v != "" {
							return v + "," + tt.secret
						}
						return tt.secret
					}
					return getenv(k)
				}
			})
			if !tt.refused {
				if err != nil {
					t.Fatalf("Run = %v, want a start with a warning", err)
				}
				if !strings.Contains(logs, "weak bootstrap token") {
					t.Fatal("no warning about the weak secret")
				}
				return
			}
			if err == nil {
				t.Fatalf("the ledger started with %s in %s", tt.name, tt.variable)
			}
			if !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("Run = %v: does not name %s", err, tt.variable)
			}
			if body := tt.secret[strings.Index(tt.secret, ".")+1:]; strings.Contains(err.Error(), body) || strings.Contains(logs, body) {
				t.Fatal("the error or the log repeats the secret")
			}
		})
	}
}
