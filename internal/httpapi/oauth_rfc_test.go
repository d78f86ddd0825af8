package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// form sends a form-encoded POST as RFC 6749 clients do.
func form(s *servicetest.Service, path, cred string, v url.Values) servicetest.Response {
	s.T().Helper()
	return s.Do("POST", path, cred, v.Encode(), "Content-Type", "application/x-www-form-urlencoded", "Accept", "application/json")
}

// history returns the types and actors (kind id) of a token's events.
func tokenHistory(s *servicetest.Service, id string) (types, actors []string) {
	s.T().Helper()
	var h struct {
		Events []struct {
			Type  string `json:"type"`
			Actor struct {
				Kind string `json:"kind"`
				ID   string `json:"id"`
			} `json:"actor"`
		} `json:"events"`
	}
	if err := json.Unmarshal(s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+id+"/history", servicetest.AdminSecret, nil).Body, &h); err != nil {
		s.T().Fatal(err)
	}
	for _, e := range h.Events {
		types = append(types, e.Type)
		actors = append(actors, e.Actor.Kind+" "+e.Actor.ID)
	}
	return types, actors
}

// Token introspection answers as RFC 7662 §2.2 describes: an active token
// with its scope (the Unleash scope in extension fields), an unknown or
// revoked one as {"active":false} alone, never cacheable; the caller
// authenticates, and bad requests are refused with the error shape.
func TestIntrospectionAnswersAsRFC7662(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("backend", "development", "default")
	gone, goneID := s.CreateToken("frontend", "development", "default")
	s.Must(http.StatusOK, "DELETE", "/api/admin/api-tokens/"+goneID, servicetest.AdminSecret, nil)
	pat := s.CreateUser("rs", "Viewer").Secret
	before := s.LastSeq()

	// RFC 7662 §2.1's request, with a real token.
	r := form(s, "/api/ledger/introspect", "Bearer "+pat, url.Values{"token": {secret}, "token_type_hint": {"access_token"}})
	if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("active token: %d, Cache-Control %q: %s", r.Status, r.Header.Get("Cache-Control"), r.Body)
	}
	got := r.JSON(t)
	want := map[string]any{"active": true, "token_type": "Bearer", "scope": "project:default environment:development",
		"sub": "token:" + id, "jti": id, "unleash_token_type": "backend", "environment": "development",
		"projects": []any{"default"}, "name": "t-backend"}
	for k, v := range want {
		if b, _ := json.Marshal(got[k]); string(b) != mustJSON(t, v) {
			t.Errorf("%s = %s, want %s", k, b, mustJSON(t, v))
		}
	}
	if iat, _ := got["iat"].(float64); iat <= 0 {
		t.Errorf("iat = %v", got["iat"])
	}
	if _, ok := got["exp"]; ok {
		t.Errorf("a token that never expires has exp %v", got["exp"])
	}
	// RFC 7662 §2.2's inactive answer: "active": false and nothing else.
	for name, tok := range map[string]string{"the RFC's example token": "2YotnFZFEjr1zCsicMWpAA", "a revoked token": gone} {
		r := form(s, "/api/ledger/introspect", pat, url.Values{"token": {tok}})
		if r.Status != http.StatusOK || string(r.Body) != "{\"active\":false}\n" {
			t.Errorf("%s: %d %s, want 200 {\"active\":false}", name, r.Status, r.Body)
		}
	}

	cases := []struct {
		name   string
		cred   string
		body   string
		ctype  string
		status int
	}{
		{"no caller credential", "", "token=" + url.QueryEscape(secret), "application/x-www-form-urlencoded", http.StatusUnauthorized},
		{"an unknown caller credential", "Bearer nope", "token=" + url.QueryEscape(secret), "application/x-www-form-urlencoded", http.StatusUnauthorized},
		{"a client token as caller", "Bearer " + secret, "token=" + url.QueryEscape(secret), "application/x-www-form-urlencoded", http.StatusForbidden},
		{"JSON instead of a form", pat, `{"token":"x"}`, "application/json", http.StatusUnsupportedMediaType},
		{"no token parameter", pat, "token_type_hint=access_token", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"two token parameters", pat, "token=a&token=b", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"not a form", pat, "token=%zz", "application/x-www-form-urlencoded", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.Do("POST", "/api/ledger/introspect", tc.cred, tc.body, "Content-Type", tc.ctype)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			servicetest.CheckErrorShape(t, r)
		})
	}
	if after := s.LastSeq(); after != before {
		t.Fatalf("introspection appended events: sequence %d → %d", before, after)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Token revocation answers as RFC 7009 §2.2 describes: 200 whether or not
// the token was valid; the holder of a token revokes it with the token
// alone, recorded with the holder as actor (the token for a client token,
// the owner for a PAT); it then verifies nowhere; bad requests append
// nothing.
func TestRevocationAnswersAsRFC7009(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, id := s.CreateToken("backend", "development", "default")
	user := s.CreateUser("holder", "Viewer")
	patTok, _ := s.Tokens.Lookup(user.Secret)
	before := s.LastSeq()

	// RFC 7009 §2.1's request: a token the server does not know.
	r := form(s, "/api/ledger/revoke", "", url.Values{"token": {"45ghiukldjahdnhzdauz"}, "token_type_hint": {"refresh_token"}})
	if r.Status != http.StatusOK || s.LastSeq() != before {
		t.Fatalf("unknown token: %d %s, sequence %d → %d", r.Status, r.Body, before, s.LastSeq())
	}
	for _, bad := range []struct {
		name, body, ctype string
		status            int
	}{
		{"JSON", `{"token":"` + secret + `"}`, "application/json", http.StatusUnsupportedMediaType},
		{"no token", "token_type_hint=access_token", "application/x-www-form-urlencoded", http.StatusBadRequest},
	} {
		r := s.Do("POST", "/api/ledger/revoke", "", bad.body, "Content-Type", bad.ctype)
		if r.Status != bad.status || s.LastSeq() != before {
			t.Fatalf("%s: %d %s, sequence %d → %d", bad.name, r.Status, r.Body, before, s.LastSeq())
		}
		servicetest.CheckErrorShape(t, r)
	}

	for _, tc := range []struct {
		name, secret, id, actor string
	}{
		{"a backend token revoked by its holder", secret, id, "token-holder " + id},
		{"a PAT revoked by its holder", user.Secret, patTok.ID, "user " + patTok.Owner.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := form(s, "/api/ledger/revoke", "", url.Values{"token": {tc.secret}})
			if r.Status != http.StatusOK || r.Header.Get("X-Ledger-Sequence") == "" {
				t.Fatalf("revoke: %d %v %s", r.Status, r.Header, r.Body)
			}
			if _, st := s.Tokens.Verify(tc.secret); st.String() != "revoked" {
				t.Fatalf("after the revocation the token is %s", st)
			}
			types, actors := tokenHistory(s, tc.id)
			if types[len(types)-1] != "token.revoked" || actors[len(actors)-1] != tc.actor {
				t.Fatalf("history %v by %v, want token.revoked by %s", types, actors, tc.actor)
			}
			seq := s.LastSeq()
			if r := form(s, "/api/ledger/revoke", "", url.Values{"token": {tc.secret}}); r.Status != http.StatusOK || s.LastSeq() != seq {
				t.Fatalf("second revocation: %d, sequence %d → %d", r.Status, seq, s.LastSeq())
			}
			if n := slices.Index(types, "token.revoked"); n != len(types)-1 {
				t.Fatalf("history %v", types)
			}
		})
	}
}
