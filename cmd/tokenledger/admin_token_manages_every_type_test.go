package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Issue 3's "done when": with only an admin token from
// INIT_ADMIN_API_TOKENS, a newcomer creates, lists, validates, changes the
// expiry of and deletes tokens of every type, and sees who did each.
func TestNewcomer_AdminTokenManagesTokensOfEveryType(t *testing.T) {
	s := startService(t, "", nil)
	admin, _ := s.Tokens.Lookup(adminSecret)
	later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)

	type tok struct {
		typ, secret, id string
		expiry, del     string // routes
		validates       bool   // answered by /edge/validate
	}
	var toks []tok
	for _, typ := range []string{"client", "backend", "frontend"} {
		secret, id := s.createToken(typ, "development")
		toks = append(toks, tok{typ, secret, id, "/api/admin/api-tokens/" + id, "/api/admin/api-tokens/" + id, true})
	}
	spare, _ := s.Tokens.Lookup(spareAdminSecret)
	toks = append(toks, tok{"admin", spareAdminSecret, spare.ID, "/api/admin/api-tokens/" + spare.ID, "/api/admin/api-tokens/" + spare.ID, true})
	u := s.createUser("nina", "Viewer") // her first PAT, issued on her behalf
	pat, _ := s.Tokens.Lookup(u.Secret)
	patPath := "/api/admin/user-admin/" + itoaInt(u.IntID) + "/tokens/" + itoa(pat.CreatedSeq)
	toks = append(toks, tok{"personal", u.Secret, pat.ID, patPath, patPath, false})
	sa := s.createServiceAccount("robot", "Viewer")
	saTok, _ := s.Tokens.Lookup(sa.Secret)
	saPath := "/api/admin/service-account/" + itoaInt(sa.IntID) + "/token/" + itoa(saTok.CreatedSeq)
	toks = append(toks, tok{"service-account", sa.Secret, saTok.ID, saPath, saPath, false})

	// list
	listed := string(s.must(http.StatusOK, "GET", "/api/ledger/tokens", adminSecret, nil).Body)
	for _, k := range toks {
		if !strings.Contains(listed, k.id) {
			t.Errorf("%s token not listed", k.typ)
		}
	}
	s.must(http.StatusOK, "GET", "/api/admin/user-admin/"+itoaInt(u.IntID)+"/tokens", adminSecret, nil)
	s.must(http.StatusOK, "GET", "/api/admin/service-account/"+itoaInt(sa.IntID)+"/token", adminSecret, nil)

	for _, k := range toks {
		t.Run(k.typ, func(t *testing.T) {
			// validate
			if _, st := s.Tokens.Verify(k.secret); st != tokenset.Valid {
				t.Fatalf("a new %s token is %v", k.typ, st)
			}
			if k.validates {
				v := s.must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{k.secret}}).JSON(t)
				if len(v["tokens"].([]any)) != 1 {
					t.Fatalf("/edge/validate does not know the %s token", k.typ)
				}
			}
			// change the expiry
			s.must(http.StatusOK, "PUT", k.expiry, adminSecret, map[string]any{"expiresAt": later})
			if got, _ := s.Tokens.ByID(k.id); got.ExpiresAt.Format(time.RFC3339) != later {
				t.Fatalf("expiry of the %s token is %v, want %s", k.typ, got.ExpiresAt, later)
			}
			// delete
			s.must(http.StatusOK, "DELETE", k.del, adminSecret, nil)
			if _, st := s.Tokens.Verify(k.secret); st != tokenset.Revoked {
				t.Fatalf("a deleted %s token is %v", k.typ, st)
			}
			// who did each
			h := s.must(http.StatusOK, "GET", "/api/ledger/tokens/"+k.id+"/history", adminSecret, nil).JSON(t)
			evs := h["events"].([]any)
			for _, e := range evs[1:] { // the expiry change and the revocation
				actor := e.(map[string]any)["actor"].(map[string]any)
				if actor["kind"] != events.ActorAdminToken || actor["id"] != admin.ID {
					t.Errorf("%s by %v, want the admin token", e.(map[string]any)["type"], actor)
				}
			}
			if len(evs) != 3 || h["chain"].(map[string]any)["intact"] != true {
				t.Fatalf("history of the %s token: %d events, chain %v", k.typ, len(evs), h["chain"])
			}
		})
	}
}

// The admin routes for other principals' tokens are for ADMIN only.
func TestAccountTokenAdminRoutes_OnlyAdmin(t *testing.T) {
	s := startService(t, "", nil)
	editor := s.createUser("ed", "Editor")
	owner := s.createUser("own", "Viewer")
	pat, _ := s.Tokens.Lookup(owner.Secret)
	sa := s.createServiceAccount("svc", "Editor")
	saTok, _ := s.Tokens.Lookup(sa.Secret)
	patPath := "/api/admin/user-admin/" + itoaInt(owner.IntID) + "/tokens"
	saPath := "/api/admin/service-account/" + itoaInt(sa.IntID) + "/token/" + itoa(saTok.CreatedSeq)
	body := map[string]any{"expiresAt": "2099-01-01T00:00:00Z"}
	for _, cred := range []string{editor.Secret, sa.Secret, owner.Secret} {
		before := s.lastSeq()
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", patPath, nil},
			{"PUT", patPath + "/" + itoa(pat.CreatedSeq), body},
			{"DELETE", patPath + "/" + itoa(pat.CreatedSeq), nil},
			{"PUT", saPath, body},
		} {
			r := s.do(c.method, c.path, cred, c.body)
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s %s by a non-admin: %d", c.method, c.path, r.Status)
			}
			checkErrorShape(t, r)
		}
		if s.lastSeq() != before {
			t.Fatal("a refused request appended")
		}
	}
	// Unknown tokens of the owner: 404.
	s.must(http.StatusNotFound, "PUT", patPath+"/999999", adminSecret, body)
	s.must(http.StatusNotFound, "DELETE", "/api/admin/service-account/"+itoaInt(sa.IntID)+"/token/"+itoa(pat.CreatedSeq), adminSecret, nil)
}
