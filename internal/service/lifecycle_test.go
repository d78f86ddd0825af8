package service_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Every mutation's event records who acted (the PAT's user, the service
// account, the admin token's name) and through what (credential id and
// type, remote address, user agent, request id).
func TestAttribution_EveryMutationRecordsActorAndCredential(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	admin, _ := s.Tokens.Lookup(servicetest.AdminSecret)
	alice := s.CreateUser("alice", "Admin")
	aliceTok, _ := s.Tokens.Lookup(alice.Secret)
	ci := s.CreateServiceAccount("ci-bot", "Admin")
	ciTok, _ := s.Tokens.Lookup(ci.Secret)
	aliceUser, _ := s.Dir.UserByIntID(uint64(alice.IntID))
	ciSA, _ := s.Dir.ServiceAccountByIntID(uint64(ci.IntID))

	type caller struct {
		cred      string
		actorKind string
		actorID   string
		credID    string
		credType  string
	}
	callers := map[string]caller{
		"admin_token":     {servicetest.AdminSecret, events.ActorAdminToken, admin.ID, admin.ID, events.TokenAdmin},
		"pat":             {alice.Secret, events.ActorUser, aliceUser.ID, aliceTok.ID, events.TokenPersonal},
		"service_account": {ci.Secret, events.ActorServiceAccount, ciSA.ID, ciTok.ID, events.TokenServiceAccount},
	}
	for name, c := range callers {
		mutations := []struct {
			name     string
			typ      string
			mutation func() servicetest.Response
		}{
			{"create_token", events.TypeTokenCreated, func() servicetest.Response {
				return s.Do("POST", "/api/admin/api-tokens", c.cred, map[string]any{"tokenName": "n", "type": "backend", "environment": "development"}, "X-Request-Id", "req-"+name)
			}},
			{"change_expiry", events.TypeTokenExpiryChanged, func() servicetest.Response {
				_, id := s.CreateToken("frontend", "development")
				return s.Do("PUT", "/api/admin/api-tokens/"+id, c.cred, map[string]any{"expiresAt": "2099-01-01T00:00:00Z"}, "X-Request-Id", "req-"+name)
			}},
			{"revoke", events.TypeTokenRevoked, func() servicetest.Response {
				_, id := s.CreateToken("frontend", "development")
				return s.Do("DELETE", "/api/admin/api-tokens/"+id, c.cred, nil, "X-Request-Id", "req-"+name)
			}},
			{"create_project", events.TypeProjectCreated, func() servicetest.Response {
				return s.Do("POST", "/api/admin/projects", c.cred, map[string]any{"id": "p-" + strings.ReplaceAll(name, "_", "-"), "name": "P"}, "X-Request-Id", "req-"+name)
			}},
			{"create_user", events.TypeUserCreated, func() servicetest.Response {
				return s.Do("POST", "/api/admin/user-admin", c.cred, map[string]any{"username": "u-" + name, "rootRole": "Viewer"}, "X-Request-Id", "req-"+name)
			}},
		}
		for _, m := range mutations {
			t.Run(name+"/"+m.name, func(t *testing.T) {
				r := m.mutation()
				if r.Status >= 300 {
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
				e := s.LastEvent()
				if e.Type != m.typ {
					t.Fatalf("last event %s, want %s", e.Type, m.typ)
				}
				if e.Actor.Kind != c.actorKind || e.Actor.ID != c.actorID || e.Actor.Name == "" {
					t.Errorf("actor = %+v, want kind %s id %s", e.Actor, c.actorKind, c.actorID)
				}
				if e.Via.CredentialID != c.credID || e.Via.CredentialType != c.credType {
					t.Errorf("via credential = %s/%s, want %s/%s", e.Via.CredentialID, e.Via.CredentialType, c.credID, c.credType)
				}
				if !strings.HasPrefix(e.Via.RemoteAddr, "127.0.0.1:") || e.Via.UserAgent != "tokenledger-test/1" || e.Via.RequestID != "req-"+name {
					t.Errorf("via = %+v", e.Via)
				}
				if e.CommandID == "" || e.Hash == "" {
					t.Errorf("event lacks command id or hash: %+v", e)
				}
			})
		}
	}
}

func TestAttribution_SystemImportsInitTokensAndCatalogue(t *testing.T) {
	s := servicetest.Start(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": "default:development.init-backend-secret-1234567890"})
	evs, next := auditPage(t, s.Audit, auditQuery(""))
	_ = next
	types := map[string]int{}
	for _, e := range evs {
		if e.Actor != events.System {
			t.Errorf("start-up event %s (seq %d) by %+v, want system", e.Type, e.Seq, e.Actor)
		}
		types[e.Type]++
	}
	if types[events.TypeProjectCreated] != 1 || types[events.TypeEnvironmentCreated] != 2 || types[events.TypeTokenCreated] != 3 {
		t.Fatalf("start-up events = %v, want default project, 2 environments, 3 INIT tokens", types)
	}
}

// Restarting on the same data dir rebuilds identical state by replay: every
// token, every revocation, every expiry change.
func TestRestart_SameDataDirKeepsEveryTokenAndRevocation(t *testing.T) {
	env := map[string]string{"INIT_FRONTEND_API_TOKENS": "default:development.init-frontend-secret-1234567890"}
	s := servicetest.Start(t, "", env)
	keep, _ := s.CreateToken("backend", "production", "default")
	gone, goneID := s.CreateToken("frontend", "development")
	_, shortID := s.CreateToken("backend", "development")
	user := s.CreateUser("bob", "Editor")
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+goneID, servicetest.AdminSecret, nil)
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+shortID, servicetest.AdminSecret, map[string]any{"expiresAt": "2099-02-03T04:05:06Z"})
	beforeSeq := s.LastSeq()

	s1 := s.Restart()
	// The one event a restart adds is the checkpoint the shutdown signs.
	after, _ := auditPage(t, s1.Audit, auditlog.Query{After: beforeSeq, Limit: 1000})
	if got := s1.LastSeq(); got != beforeSeq+1 || len(after) != 1 || after[0].Type != events.TypeCheckpoint {
		t.Fatalf("restart appended events other than the shutdown checkpoint: seq %d → %d, %v (INIT import must be idempotent)", beforeSeq, got, after)
	}
	// With nothing new since that checkpoint, a restart appends nothing.
	beforeSeq, beforeTokens, beforeDir := s1.LastSeq(), s1.Tokens.Digest(), s1.Dir.Digest()
	s2 := s1.Restart()
	if got := s2.LastSeq(); got != beforeSeq {
		t.Fatalf("restart appended events: seq %d → %d (INIT import must be idempotent)", beforeSeq, got)
	}
	if s2.Tokens.Digest() != beforeTokens || s2.Dir.Digest() != beforeDir {
		t.Fatal("state after replay differs from state before restart")
	}
	for secret, want := range map[string]tokenset.Status{keep: tokenset.Valid, gone: tokenset.Revoked, user.Secret: tokenset.Valid,
		"default:development.init-frontend-secret-1234567890": tokenset.Valid} {
		if _, st := s2.Tokens.Verify(secret); st != want {
			t.Errorf("after restart a token verifies as %v, want %v", st, want)
		}
	}
	short, _ := s2.Tokens.ByID(shortID)
	if short.ExpiresAt.Format(time.RFC3339) != "2099-02-03T04:05:06Z" {
		t.Errorf("expiry change lost: %v", short.ExpiresAt)
	}
	s2.Must(http.StatusOK, "GET", "/api/admin/api-tokens", user.Secret, nil)
}

// A token deleted through the API stays deleted when the service restarts
// with the same INIT variables.
func TestBootstrap_DeletedInitTokenIsNotBroughtBack(t *testing.T) {
	env := map[string]string{"INIT_CLIENT_API_TOKENS": "default:development.init-client-secret-123456789012"}
	s := servicetest.Start(t, "", env)
	tok, ok := s.Tokens.Lookup("default:development.init-client-secret-123456789012")
	if !ok || tok.Type != events.TokenBackend {
		t.Fatalf("INIT_CLIENT_API_TOKENS not imported as a backend token: %+v", tok)
	}
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+tok.ID, servicetest.AdminSecret, nil)
	s2 := s.Restart()
	if _, st := s2.Tokens.Verify("default:development.init-client-secret-123456789012"); st != tokenset.Revoked {
		t.Fatalf("deleted INIT token is %v after restart", st)
	}
}

// Tokens expire at their moment (verification checks it), and the
// scheduler records token.expired once, by the actor system.
func TestExpiry_TokenStopsAtItsMomentAndTheEventIsRecorded(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("backend", "development")
	at := time.Now().Add(300 * time.Millisecond).UTC()
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, map[string]any{"expiresAt": at.Format(time.RFC3339Nano)})
	servicetest.WaitFor(t, 10*time.Second, func() error {
		evs, _ := auditPage(t, s.Audit, auditQuery(id))
		if len(evs) > 0 && evs[len(evs)-1].Type == events.TypeTokenExpired {
			if evs[len(evs)-1].Actor != events.System {
				t.Fatalf("expired by %+v", evs[len(evs)-1].Actor)
			}
			return nil
		}
		return fmt.Errorf("no token.expired recorded; history: %+v", evs)
	})
	if _, st := s.Tokens.Verify(secret); st != tokenset.Expired {
		t.Fatalf("status %v, want expired", st)
	}
	v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}}).JSON(t)
	if len(v["tokens"].([]any)) != 0 {
		t.Fatal("an expired token validates")
	}
	evs, _ := auditPage(t, s.Audit, auditQuery(id))
	n := 0
	for _, e := range evs {
		if e.Type == events.TypeTokenExpired {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("token.expired recorded %d times", n)
	}
}

// The canary: secrets handed out by every path must appear nowhere but in
// the one answer that created them: not in the stream's files, the logs,
// any error answer or any listing.
func TestCanary_SecretsNeverReachTheStreamLogsOrErrors(t *testing.T) {
	initSecret := "default:development.canary-init-" + strings.Repeat("c", 40)
	s := servicetest.Start(t, "", map[string]string{"INIT_BACKEND_API_TOKENS": initSecret})
	var secrets []string
	for _, typ := range []string{"backend", "client", "frontend"} {
		sec, _ := s.CreateToken(typ, "development", "default")
		secrets = append(secrets, sec)
	}
	u := s.CreateUser("carol", "Admin")
	sa := s.CreateServiceAccount("canary-sa", "Editor")
	pat := s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret,
		map[string]any{"description": "second", "expiresAt": servicetest.FromNow(time.Hour)}).JSON(t)["secret"].(string)
	secrets = append(secrets, u.Secret, sa.Secret, pat, initSecret, servicetest.AdminSecret, servicetest.SpareAdminSecret)

	// Provoke errors and log lines that involve the secrets.
	var answers []string
	for _, sec := range secrets {
		answers = append(answers,
			string(s.Do("GET", "/api/admin/api-tokens", sec+"x", nil).Body),
			string(s.Do("POST", "/api/admin/api-tokens", sec, `{"tokenName":`).Body),
			string(s.Do("DELETE", "/api/admin/projects/default/api-tokens/"+sec, servicetest.AdminSecret, nil).Body),
			string(s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil).Body),
			string(s.Do("GET", "/api/ledger/events?limit=1000", servicetest.AdminSecret, nil).Body),
			string(s.Do("GET", "/api/ledger/tokens", servicetest.AdminSecret, nil).Body),
			string(s.Do("GET", "/api/admin/user/tokens", u.Secret, nil).Body),
			string(s.Do("GET", "/api/admin/no-such-route/"+sec, servicetest.AdminSecret, nil).Body),
			string(s.Do("PUT", "/api/admin/api-tokens/"+sec, servicetest.AdminSecret, `{"expiresAt":"soon"}`).Body),
			// A secret pasted into the wrong place: as a member name, as
			// values the API validates, as a path id.
			string(s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, `{"`+sec+`":1}`).Body),
			string(s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, `{"tokenName":"x","type":"`+sec+`"}`).Body),
			string(s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, `{"tokenName":"x","type":"client","environment":"`+sec+`"}`).Body),
			string(s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, `{"tokenName":"x","type":"client","projects":["`+sec+`"]}`).Body),
			string(s.Do("POST", "/api/admin/projects", servicetest.AdminSecret, `{"id":"`+sec+`","name":"x"}`).Body),
			string(s.Do("PUT", "/api/admin/environments/update/"+sec, servicetest.AdminSecret, `{"type":"production"}`).Body),
			string(s.Do("POST", "/api/admin/user-admin", servicetest.AdminSecret, `{"username":"u","email":"`+sec+`","rootRole":"Viewer"}`).Body),
			string(s.Do("POST", "/api/admin/user-admin", servicetest.AdminSecret, `{"username":"u","rootRole":"`+sec+`"}`).Body),
		)
		s.Do("DELETE", "/api/admin/api-tokens/"+sec, servicetest.AdminSecret, nil)
	}
	metrics := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	if !strings.Contains(metrics, `tokenledger_http_requests_total{method="DELETE",route="/api/admin/api-tokens/{token}",status="200"}`) {
		t.Fatal("canary is blind: /metrics has no line for the deletes by secret")
	}
	answers = append(answers, metrics)
	logs := s.Logs()
	if !strings.Contains(logs, `"route":"DELETE /api/admin/api-tokens/{token}"`) {
		t.Fatal("canary is blind: the access log has no line for the deletes by secret")
	}
	if err := s.Close(); err != nil { // flush the store's files
		t.Fatal(err)
	}
	var files strings.Builder
	err := filepath.WalkDir(s.Config.DataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		files.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(files.String(), "token.created") {
		t.Fatal("canary is blind: the stream files hold no token.created event")
	}
	for i, sec := range secrets {
		body := sec[strings.LastIndexAny(sec, ".:")+1:]
		for where, text := range map[string]string{"stream files": files.String(), "logs": logs, "answers": strings.Join(answers, "\n")} {
			if strings.Contains(text, body) {
				t.Errorf("secret %d found in the %s", i, where)
			}
		}
		enc, _ := json.Marshal(body)
		if strings.Contains(files.String(), string(enc[1:len(enc)-1])) {
			t.Errorf("secret %d found JSON-escaped in the stream files", i)
		}
	}
}

// A token's history lists every event with its actor and reports the
// verdict of the token's hash chain, read from the stream.
func TestHistory_ListsEveryEventAndChecksTheChain(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	s.Must(http.StatusOK, "PUT", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, map[string]any{"expiresAt": "2099-01-01T00:00:00Z"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+id, servicetest.AdminSecret, nil)
	h := s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+id+"/history", servicetest.AdminSecret, nil).JSON(t)
	evs := h["events"].([]any)
	var types []string
	for _, e := range evs {
		ev := e.(map[string]any)
		types = append(types, ev["type"].(string))
		if ev["actor"].(map[string]any)["kind"] != events.ActorAdminToken {
			t.Errorf("event %v by %v", ev["type"], ev["actor"])
		}
	}
	if strings.Join(types, ",") != "token.created,token.expiry-changed,token.revoked" {
		t.Fatalf("history = %v", types)
	}
	chain := h["chain"].(map[string]any)
	if chain["intact"] != true || chain["events"].(float64) != 3 || chain["head"] == "" {
		t.Fatalf("chain = %v", chain)
	}
	if h["token"].(map[string]any)["status"] != "revoked" {
		t.Fatalf("token = %v", h["token"])
	}
	s.Must(http.StatusNotFound, "GET", "/api/ledger/tokens/no-such-token/history", servicetest.AdminSecret, nil)
}

// An event written around the ledger (straight to the stream, not chained
// to its predecessor) stops the projections at its sequence, even signed
// with the ledger's key (an unsigned one is a forgery:
// forged_events_test.go): it is never applied, and the probes name it as
// a broken chain.
func TestBrokenChainStopsTheProjectionsAtItsSequence(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	_, id := s.CreateToken("backend", "development")
	forged, err := events.New("01JD0000000000000000000099", id, events.TokenExpiryChanged{}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	forged.Prev = strings.Repeat("0", 64) // not the created event's hash
	if err := forged.Seal(); err != nil {
		t.Fatal(err)
	}
	key, err := ledgerkey.Load(s.Config.DataDir + ".signing-key")
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Sign(key); err != nil {
		t.Fatal(err)
	}
	data, _ := events.Marshal(&forged)
	js, err := jetstream.New(s.Conn())
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish(context.Background(), forged.Subject(), data)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Runner.WaitFor(context.Background(), ack.Sequence)
	if te := events.AsTamper(err); te == nil || te.Seq != ack.Sequence || te.Kind != events.TamperChain {
		t.Fatalf("WaitFor(%d) = %v, want the projections stopped by a broken chain there", ack.Sequence, err)
	}
	body := s.Do("GET", "/health", "", nil).JSON(t)
	if body["health"] != "LEDGER_TAMPERED" || body["seq"] != float64(ack.Sequence) || body["kind"] != events.TamperChain {
		t.Fatalf("/health = %v, want LEDGER_TAMPERED, a broken chain at %d", body, ack.Sequence)
	}
}

// A read may name the sequence a write answered with (X-Ledger-Min-Sequence)
// and is then answered only once the projections applied it.
func TestReadYourWrites_MinSequenceHeader(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.ReadWait = 200 * time.Millisecond })
	r := s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "ryw", "type": "frontend", "environment": "development"})
	seq := r.Header.Get("X-Ledger-Sequence")
	if seq == "" || seq != strconv.FormatUint(s.LastSeq(), 10) {
		t.Fatalf("X-Ledger-Sequence = %q, stream at %d", seq, s.LastSeq())
	}
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens/ryw", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", seq)
	s.Must(http.StatusBadRequest, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", "soon")
	far := strconv.FormatUint(s.LastSeq()+1000, 10)
	r = s.Do("GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", far)
	if r.Status != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Fatalf("a sequence never reached: status %d", r.Status)
	}
	servicetest.CheckErrorShape(t, r)
}

// An INIT token whose environment was deleted since it was imported does
// not stop the next start.
func TestBootstrap_InitTokenOfADeletedEnvironmentDoesNotBlockRestart(t *testing.T) {
	env := map[string]string{"INIT_FRONTEND_API_TOKENS": "default:production.init-frontend-prod-123456789012"}
	s := servicetest.Start(t, "", env)
	s.Must(http.StatusOK, "DELETE", "/api/admin/environments/production", servicetest.AdminSecret, nil)
	s2 := s.Restart()
	if _, st := s2.Tokens.Verify("default:production.init-frontend-prod-123456789012"); st != tokenset.Revoked {
		t.Fatalf("the INIT token of the deleted environment is %v after restart", st)
	}
}

// /metrics serves Prometheus metrics: requests by route pattern, token
// verifications by outcome, projection progress and ledger health.
func TestMetrics_CountRequestsVerificationsAndProgress(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusOK, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil)
	s.Do("GET", "/api/admin/api-tokens", "*:*.not-a-token-at-all-xxxxxxxxxxxx", nil)
	body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
	for _, want := range []string{
		`tokenledger_http_requests_total{method="GET",route="/api/admin/api-tokens",status="200"} 1`,
		`tokenledger_http_requests_total{method="GET",route="/api/admin/api-tokens",status="401"} 1`,
		`tokenledger_token_verifications_total{outcome="unknown"} 1`,
		`tokenledger_token_verifications_total{outcome="valid"} 1`,
		`tokenledger_projections_last_applied_sequence ` + strconv.FormatUint(s.LastSeq(), 10),
		`tokenledger_projections_ready 1`,
		`tokenledger_ledger_accepts_writes 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// Anonymous requests cannot make the server wait with X-Ledger-Min-Sequence:
// the header is ignored (a credentialed request would get 503 for a
// sequence never reached).
func TestReadYourWrites_AnonymousRequestsDoNotWait(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.ReadWait = 200 * time.Millisecond })
	far := strconv.FormatUint(s.LastSeq()+1000, 10)
	s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{"x"}}, "X-Ledger-Min-Sequence", far)
	s.Must(http.StatusServiceUnavailable, "GET", "/api/admin/api-tokens", servicetest.AdminSecret, nil, "X-Ledger-Min-Sequence", far)
}

// auditQuery is every event of one aggregate ("" for all), oldest first.
// auditPage is one page of q read from the stream; a read error fails t.
func auditPage(t testing.TB, l *auditlog.Log, q auditlog.Query) ([]auditlog.Entry, uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := l.Page(ctx, q)
	if err != nil {
		t.Fatalf("audit page: %v", err)
	}
	return p.Entries, p.Next
}

func auditQuery(aggregate string) auditlog.Query {
	return auditlog.Query{AggregateID: aggregate, Limit: 1000}
}
