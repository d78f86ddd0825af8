package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// With only an admin token from INIT_ADMIN_API_TOKENS, a newcomer creates,
// lists, validates, changes the expiry of and deletes tokens of every type,
// and sees who did each.
func TestNewcomer_AdminTokenManagesTokensOfEveryType(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	admin, _ := s.Tokens.Lookup(servicetest.AdminSecret)
	later := servicetest.FromNow(48 * time.Hour)

	type tok struct {
		typ, secret, id string
		expiry, del     string // routes
		validates       bool   // answered by /edge/validate
	}
	var toks []tok
	for _, typ := range []string{"client", "backend", "frontend"} {
		secret, id := s.CreateToken(typ, "development")
		toks = append(toks, tok{typ, secret, id, "/api/admin/api-tokens/" + id, "/api/admin/api-tokens/" + id, true})
	}
	spare, _ := s.Tokens.Lookup(servicetest.SpareAdminSecret)
	toks = append(toks, tok{"admin", servicetest.SpareAdminSecret, spare.ID, "/api/admin/api-tokens/" + spare.ID, "/api/admin/api-tokens/" + spare.ID, true})
	u := s.CreateUser("nina", "Viewer") // her first PAT, issued on her behalf
	pat, _ := s.Tokens.Lookup(u.Secret)
	patPath := "/api/admin/user-admin/" + strconv.Itoa(u.IntID) + "/tokens/" + strconv.FormatUint(pat.CreatedSeq, 10)
	toks = append(toks, tok{"personal", u.Secret, pat.ID, patPath, patPath, false})
	sa := s.CreateServiceAccount("robot", "Viewer")
	saTok, _ := s.Tokens.Lookup(sa.Secret)
	saPath := "/api/admin/service-account/" + strconv.Itoa(sa.IntID) + "/token/" + strconv.FormatUint(saTok.CreatedSeq, 10)
	toks = append(toks, tok{"service-account", sa.Secret, saTok.ID, saPath, saPath, false})

	// list
	listed := string(s.Must(http.StatusOK, "GET", "/api/ledger/tokens", servicetest.AdminSecret, nil).Body)
	for _, k := range toks {
		if !strings.Contains(listed, k.id) {
			t.Errorf("%s token not listed", k.typ)
		}
	}
	s.Must(http.StatusOK, "GET", "/api/admin/user-admin/"+strconv.Itoa(u.IntID)+"/tokens", servicetest.AdminSecret, nil)
	s.Must(http.StatusOK, "GET", "/api/admin/service-account/"+strconv.Itoa(sa.IntID)+"/token", servicetest.AdminSecret, nil)

	for _, k := range toks {
		t.Run(k.typ, func(t *testing.T) {
			// validate
			if _, st := s.Tokens.Verify(k.secret); st != tokenset.Valid {
				t.Fatalf("a new %s token is %v", k.typ, st)
			}
			if k.validates {
				v := s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{k.secret}}).JSON(t)
				if len(v["tokens"].([]any)) != 1 {
					t.Fatalf("/edge/validate does not know the %s token", k.typ)
				}
			}
			// change the expiry
			s.Must(http.StatusOK, "PUT", k.expiry, servicetest.AdminSecret, map[string]any{"expiresAt": later})
			if got, _ := s.Tokens.ByID(k.id); got.ExpiresAt.Format(time.RFC3339) != later {
				t.Fatalf("expiry of the %s token is %v, want %s", k.typ, got.ExpiresAt, later)
			}
			// delete
			s.Must(http.StatusOK, "DELETE", k.del, servicetest.AdminSecret, nil)
			if _, st := s.Tokens.Verify(k.secret); st != tokenset.Revoked {
				t.Fatalf("a deleted %s token is %v", k.typ, st)
			}
			// who did each
			h := s.Must(http.StatusOK, "GET", "/api/ledger/tokens/"+k.id+"/history", servicetest.AdminSecret, nil).JSON(t)
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
	s := servicetest.Start(t, "", nil)
	editor := s.CreateUser("ed", "Editor")
	owner := s.CreateUser("own", "Viewer")
	pat, _ := s.Tokens.Lookup(owner.Secret)
	sa := s.CreateServiceAccount("svc", "Editor")
	saTok, _ := s.Tokens.Lookup(sa.Secret)
	patPath := "/api/admin/user-admin/" + strconv.Itoa(owner.IntID) + "/tokens"
	saPath := "/api/admin/service-account/" + strconv.Itoa(sa.IntID) + "/token/" + strconv.FormatUint(saTok.CreatedSeq, 10)
	body := map[string]any{"expiresAt": "2099-01-01T00:00:00Z"}
	for _, cred := range []string{editor.Secret, sa.Secret, owner.Secret} {
		before := s.LastSeq()
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"GET", patPath, nil},
			{"PUT", patPath + "/" + strconv.FormatUint(pat.CreatedSeq, 10), body},
			{"DELETE", patPath + "/" + strconv.FormatUint(pat.CreatedSeq, 10), nil},
			{"PUT", saPath, body},
		} {
			r := s.Do(c.method, c.path, cred, c.body)
			if r.Status != http.StatusForbidden {
				t.Fatalf("%s %s by a non-admin: %d", c.method, c.path, r.Status)
			}
			servicetest.CheckErrorShape(t, r)
		}
		if s.LastSeq() != before {
			t.Fatal("a refused request appended")
		}
	}
	// Unknown tokens of the owner: 404.
	s.Must(http.StatusNotFound, "PUT", patPath+"/999999", servicetest.AdminSecret, body)
	s.Must(http.StatusNotFound, "DELETE", "/api/admin/service-account/"+strconv.Itoa(sa.IntID)+"/token/"+strconv.FormatUint(pat.CreatedSeq, 10), servicetest.AdminSecret, nil)
}
