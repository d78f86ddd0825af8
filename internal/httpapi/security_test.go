package httpapi_test

// Security properties of the API: on-behalf PATs, idempotency keys that
// must not be mistaken for replays, expiry at the edge of the calendar,
// project roles of service accounts, state at a past sequence, SSO logins.

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// An Admin may issue a user's first PAT ever on their behalf, and only that
// one: once the user has had a PAT, even a revoked one, the on-behalf route
// issues no other, so an admin cannot keep minting credentials to act as
// the user.
func TestSecurity_OnBehalfPATOnlyForAUsersFirstPATEver(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("olga", "Viewer") // first PAT, on behalf: fine
	tok, _ := s.Tokens.Lookup(u.Secret)
	s.Must(http.StatusOK, "DELETE", "/api/admin/user/tokens/"+strconv.FormatUint(tok.CreatedSeq, 10), u.Secret, nil)
	before := s.LastSeq()
	r := s.Do("POST", "/api/admin/user-admin/"+strconv.Itoa(u.IntID)+"/tokens", servicetest.AdminSecret,
		map[string]any{"description": "second-on-behalf", "expiresAt": servicetest.FromNow(time.Hour)})
	if r.Status == http.StatusCreated {
		t.Fatalf("a second PAT was issued on the user's behalf (stream %d → %d): %s", before, s.LastSeq(), r.Body)
	}
}

// A retry of the on-behalf route with the same Idempotency-Key answers 200
// with the first result, not 403 ("already has a PAT").
func TestSecurity_OnBehalfRetryWithSameKeyIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "pete", "rootRole": "Viewer"})
	path := fmt.Sprintf("/api/admin/user-admin/%d/tokens", int(r.JSON(t)["id"].(float64)))
	body := map[string]any{"description": "first", "expiresAt": servicetest.FromNow(time.Hour)}
	s.Must(http.StatusCreated, "POST", path, servicetest.AdminSecret, body, "Idempotency-Key", "k1")
	again := s.Do("POST", path, servicetest.AdminSecret, body, "Idempotency-Key", "k1")
	if again.Status != http.StatusOK {
		t.Fatalf("retry with the same key: status %d, want 200 (replay): %s", again.Status, again.Body)
	}
}

// PUT expiresAt "0001-01-01T00:00:00Z" is a past date: the token stops at
// once; the zero time is never read as "never expires".
func TestSecurity_ZeroExpiryStopsTheTokenAtOnce(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("backend", "development")
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, map[string]any{"expiresAt": "0001-01-01T00:00:00Z"})
	v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}).JSON(t)
	if n := len(v["tokens"].([]any)); n != 0 {
		t.Fatalf("token with a past expiry (year 1) still validates; listing shows: %s",
			s.Must(http.StatusOK, "GET", "/api/ledger/tokens", servicetest.AdminSecret, nil).Body)
	}
}

// "The same key sent with a different request answers 422 and appends
// nothing", for updates too: a PUT with a reused key and another body is
// not taken for a replay of the first.
func TestSecurity_ReusedKeyWithAnotherBodyIs422OnUpdates(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("backend", "development")
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret,
		map[string]any{"expiresAt": servicetest.FromNow(365 * 24 * time.Hour)}, "Idempotency-Key", "rotate-1")
	// The operator now wants to stop the token at once, reusing the key by mistake.
	r := s.Do("PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret,
		map[string]any{"expiresAt": "2000-01-01T00:00:00Z"}, "Idempotency-Key", "rotate-1")
	v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}).JSON(t)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("reused key with another body: status %d (want 422); token still valid: %v", r.Status, len(v["tokens"].([]any)) == 1)
	}
}

// POST /api/admin/projects with a reused Idempotency-Key and another id
// answers 422: it is not answered 201 with a project that was never created
// (its event would carry the first one's Nats-Msg-Id and be dropped as a
// duplicate).
func TestSecurity_ReusedKeyWithAnotherProjectIdIs422(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "alpha"}, "Idempotency-Key", "p-key")
	seq := s.LastSeq()
	r := s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "beta"}, "Idempotency-Key", "p-key")
	_, exists := s.Dir.Project("beta")
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("reused key with another project id: status %d (want 422), project beta exists: %v, stream %d → %d, body: %s",
			r.Status, exists, seq, s.LastSeq(), r.Body)
	}
}

// A retried project create (same key, same body) answers 200 with the first
// result (README: "a retry with the same key ... answers 200"), not 201
// again.
func TestSecurity_ReplayedProjectCreateAnswers200(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	body := map[string]any{"id": "gamma"}
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, body, "Idempotency-Key", "g")
	r := s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, body, "Idempotency-Key", "g")
	if r.Status != http.StatusOK {
		t.Fatalf("replayed project create: status %d (Idempotent-Replayed=%q), want 200", r.Status, r.Header.Get("Idempotent-Replayed"))
	}
}

// A retried DELETE of a user with the same Idempotency-Key answers 200 as a
// replay, although the user is gone by then (not 404).
func TestSecurity_RetriedUserDeleteIsReplayed(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("quinn", "Viewer")
	path := "/api/admin/user-admin/" + strconv.Itoa(u.IntID)
	s.Must(http.StatusOK, "DELETE", path, servicetest.AdminSecret, nil, "Idempotency-Key", "del-1")
	r := s.Do("DELETE", path, servicetest.AdminSecret, nil, "Idempotency-Key", "del-1")
	if r.Status != http.StatusOK {
		t.Fatalf("retried delete with the same key: status %d, want 200 (replay): %s", r.Status, r.Body)
	}
}

// A project role given to a service account (POST
// …/projects/{p}/service-accounts/{sa}/roles/{r}) is taken away by DELETE
// on the same route, without deleting the account, and its access ends.
func TestSecurity_ServiceAccountProjectRoleCanBeRemoved(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "p1"})
	sa := s.CreateServiceAccount("deployer", "Viewer")
	grant := fmt.Sprintf("/api/admin/projects/p1/service-accounts/%d/roles/5", sa.IntID)
	s.Must(http.StatusOK, "POST", grant, servicetest.AdminSecret, nil)
	s.Must(http.StatusOK, "GET", "/api/admin/projects/p1/api-tokens", sa.Secret, nil)
	r := s.Do("DELETE", grant, servicetest.AdminSecret, nil)
	if r.Status != http.StatusOK {
		t.Fatalf("removing the service account's project role: status %d: %s", r.Status, r.Body)
	}
	s.Must(http.StatusForbidden, "GET", "/api/admin/projects/p1/api-tokens", sa.Secret, nil)
}

// GET /api/ledger/state?seq=N is the token set as it was at stream sequence
// N, statuses included (by the clock of that moment): a token valid at N
// that expired since is reported valid at N, and expired now.
func TestSecurity_StateAtSeqUsesThatMomentsClock(t *testing.T) {
	clock := servicetest.NewClock(time.Now())
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.Now = clock.Now })
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "short", "type": "backend", "environment": "development",
			"expiresAt": clock.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)})
	tok, _ := s.Tokens.Lookup(r.JSON(t)["secret"].(string))
	seq := tok.CreatedSeq
	clock.Advance(2 * time.Second)
	st := s.Must(http.StatusOK, "GET", "/api/ledger/state?seq="+strconv.FormatUint(seq, 10), servicetest.AdminSecret, nil).JSON(t)
	found := false
	for _, x := range st["tokens"].([]any) {
		m := x.(map[string]any)
		if m["id"] == tok.ID {
			found = true
			if m["status"] != "valid" {
				t.Fatalf("at sequence %d the token was valid; state?seq answers %q", seq, m["status"])
			}
		}
	}
	if !found {
		t.Fatal("the token is missing from the state at its own sequence")
	}
	// And the present, by the same clock, knows it expired.
	if got := s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+tok.ID, servicetest.AdminSecret, nil).JSON(t)["status"]; got != "expired" {
		t.Fatalf("now (2 s later by the ledger's clock) the token is %v, want expired", got)
	}
}

// The auth-proxy header names the signed-in user by username or e-mail, so
// the two share one namespace: one user's e-mail cannot be another user's
// username, and the header resolves to the person the SSO proxy signed in.
func TestSecurity_LoginsShareOneNamespaceForSSO(t *testing.T) {
	const header = "X-Forwarded-User"
	s := servicetest.StartWith(t, "", nil, ssoProxy(header))
	// ann signs in with her e-mail; a Viewer account happens to have it as username.
	s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "ann", "email": "ann@corp.example", "rootRole": "Admin"})
	// Usernames and e-mails share one namespace: the look-alike is refused.
	s.Must(http.StatusConflict, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": "ann@corp.example", "rootRole": "Viewer"})
	me := s.Must(http.StatusOK, "GET", "/api/admin/user", "", nil, header, "ann@corp.example").JSON(t)
	if u := me["user"].(map[string]any); u["email"] != "ann@corp.example" {
		t.Fatalf("the SSO login ann@corp.example resolved to another user: %v", u)
	}
}
