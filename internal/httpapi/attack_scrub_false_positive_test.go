package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// imageDigest is a container image digest as deploy tooling prints it: a
// SHA-256, 64 hex digits, that no token holds.
const imageDigest = "sha256:9b2a6f0c1d3e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c"

// scrubSecrets takes any run of 48 or more hex digits for a secret,
// whether or not a token holds it. A reason that names the image a change
// was made for ("roll back to sha256:…", the commonest thing a deploy
// pipeline writes) is stored as "roll back to sha256:[secret]", so the
// trail loses the one detail the reason was for; and a token named after
// its image digest is refused with a 400, though it holds no secret.
func TestHexDigestsThatAreNoSecretSurviveTheScrub(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "app " + imageDigest, "type": "client", "environment": "development"})
	if r.Status != http.StatusCreated {
		t.Errorf("a token named after an image digest: %d, want 201: %.300s", r.Status, r.Body)
	}
	before := s.LastSeq()
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "app", "type": "client", "environment": "development"}, "X-Ledger-Reason", "roll back to "+imageDigest)
	kept := false
	for _, e := range s.Events(before+1, s.LastSeq()) {
		if strings.Contains(e.Reason, imageDigest) {
			kept = true
		}
	}
	if !kept {
		t.Errorf("the reason %q was not stored as sent: the digest, which no token holds, was scrubbed", "roll back to "+imageDigest)
	}
}
