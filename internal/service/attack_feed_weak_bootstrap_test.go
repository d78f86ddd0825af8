package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Verifiers are unsalted SHA-256 and the feed hands every reader the
// verifier of every token, admin tokens included. The bootstrap check
// (bootstrap.Weak) measures length, not entropy: Unleash's documented
// quick-start admin token "*:*.unleash-insecure-admin-api-token" has a
// 32-character secret part, is not even warned about, and a NATS reader
// (who should learn nothing but token events) finds it by hashing a
// short list of well-known secrets against the feed, and is then an
// admin over HTTP. A reader must not be able to turn the feed into an
// admin credential.
func TestReaderCannotRecoverAWellKnownAdminSecretFromTheFeed(t *testing.T) {
	const wellKnown = "*:*.unleash-insecure-admin-api-token"
	hash, err := bcrypt.GenerateFromPassword([]byte(testReaderPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	readers, err := jsstore.ParseReaders(testReader + ":" + string(hash))
	if err != nil {
		t.Fatal(err)
	}
	s := servicetest.StartWith(t, "", map[string]string{"INIT_ADMIN_API_TOKENS": wellKnown}, func(c *service.Config) {
		c.NATSListen = "127.0.0.1:0"
		c.NATSReaders = readers
	})

	// The reader's dictionary: secrets from Unleash's documentation and
	// docker-compose files.
	dictionary := map[string]string{}
	for _, c := range []string{
		"*:*.unleash-insecure-admin-api-token", "*:*.unleash-insecure-api-token",
		"default:development.unleash-insecure-api-token", "*:development.unleash-insecure-api-token",
		"default:development.unleash-insecure-frontend-api-token", "*:development.unleash-insecure-frontend-api-token",
	} {
		sum := sha256.Sum256([]byte(c))
		dictionary[hex.EncodeToString(sum[:])] = c
	}
	rd, _ := reader(s, t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	want := s.LastSeq()
	var found []string
	err = jsstore.FollowFeed(ctx, rd, 1, func(e jsstore.FeedEvent) error {
		var env struct {
			Data struct {
				Verifier string `json:"verifier"`
			} `json:"data"`
		}
		if err := json.Unmarshal(e.Data, &env); err != nil {
			return err
		}
		if secret, ok := dictionary[env.Data.Verifier]; ok {
			found = append(found, secret)
		}
		if e.LedgerSequence >= want {
			cancel()
		}
		return nil
	})
	if ctx.Err() == nil {
		t.Fatalf("FollowFeed = %v", err)
	}
	for _, secret := range found {
		if r := s.Do("GET", "/api/admin/user-admin", "Bearer "+secret, nil); r.Status == http.StatusOK {
			t.Fatalf("a NATS reader matched the verifier of %q in the feed against well-known secrets and lists every user with it (%d)",
				secret, r.Status)
		}
	}
}
