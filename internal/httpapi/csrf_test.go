package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// With the auth-proxy header on, a browser carries the signed-in user's
// single-sign-on session to every site's requests. A page on another origin
// cannot make it change anything, not even with a form POST to a body-less
// route (such as granting a project role).
func TestCrossOriginMutationsAreRefused(t *testing.T) {
	const header = "X-Forwarded-User"
	s := servicetest.StartWith(t, "", nil, ssoProxy(header))
	s.CreateUser("sso-admin", "Admin")
	victim := s.CreateUser("sso-viewer", "Viewer")
	host := strings.TrimPrefix(s.URL(), "http://")
	self := s.URL()
	grant := fmt.Sprintf("/api/admin/projects/default/users/%d/roles/4", victim.IntID)
	form := "application/x-www-form-urlencoded"

	refused := []struct {
		name, method, path, ctype, body string
		headers                         []string
	}{
		{"form_post_cross_site", "POST", grant, form, "", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"form_post_sec_fetch_site_only", "POST", grant, form, "", []string{"Sec-Fetch-Site", "cross-site"}},
		{"form_post_same_site_other_origin", "POST", grant, form, "", []string{"Sec-Fetch-Site", "same-site"}},
		{"form_post_foreign_origin_old_browser", "POST", grant, form, "", []string{"Origin", "https://evil.example"}},
		{"json_post_foreign_origin_claiming_same_origin", "POST", grant, "application/json", "",
			[]string{"Origin", "https://evil.example", "Sec-Fetch-Site", "same-origin"}},
		{"form_delete_cross_site", "DELETE", "/api/admin/projects/default", form, "", []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"text_plain_create_cross_site", "POST", "/api/admin/api-tokens", "text/plain",
			`{"tokenName":"x","type":"client","environment":"development"}`, []string{"Origin", "null", "Sec-Fetch-Site", "cross-site"}},
	}
	before := s.LastSeq()
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			h := append([]string{header, "sso-admin", "Content-Type", tt.ctype}, tt.headers...)
			var body any
			if tt.body != "" {
				body = tt.body
			}
			r := s.Do(tt.method, tt.path, "", body, h...)
			if r.Status != http.StatusForbidden {
				t.Fatalf("status %d, want 403: %s", r.Status, r.Body)
			}
			servicetest.CheckErrorShape(t, r)
			if name := r.JSON(t)["name"]; name != "CrossOriginRequestError" {
				t.Fatalf("error name %v", name)
			}
		})
	}
	// A same-origin form (no JSON) through the proxy is refused too: the
	// proxy's header is an ambient credential, so its changes must be JSON.
	r := s.Do("POST", grant, "", nil, header, "sso-admin", "Content-Type", form, "Origin", self, "Sec-Fetch-Site", "same-origin")
	if r.Status != http.StatusUnsupportedMediaType {
		t.Fatalf("same-origin form through the proxy: status %d, want 415: %s", r.Status, r.Body)
	}
	servicetest.CheckErrorShape(t, r)
	if got := s.LastSeq(); got != before {
		t.Fatalf("refused requests appended %d events", got-before)
	}

	// What still works: the browser UI on the ledger's own origin (JSON),
	// the same with only Origin (older browsers), and clients that are not
	// browsers (curl: no Origin, no Sec-Fetch-Site, a bearer token, no
	// Content-Type on a body-less change).
	s.Must(http.StatusOK, "POST", grant, "", nil, header, "sso-admin", "Content-Type", "application/json",
		"Origin", self, "Sec-Fetch-Site", "same-origin")
	s.Must(http.StatusOK, "DELETE", grant, "", nil, header, "sso-admin", "Content-Type", "application/json", "Origin", "http://"+host)
	s.Must(http.StatusOK, "POST", grant, servicetest.AdminSecret, nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "curl", "type": "client", "environment": "development"})
}

// A configured trusted origin (a proxy's public URL when the proxy rewrites
// Host) may send changes; others may not.
func TestTrustedOriginMaySendMutations(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) {
		c.TrustedOrigins = []string{"https://ledger.example"}
	})
	body := map[string]any{"tokenName": "ui", "type": "client", "environment": "development"}
	s.Must(http.StatusCreated, "POST", "/api/admin/api-tokens", servicetest.AdminSecret, body,
		"Origin", "https://ledger.example", "Sec-Fetch-Site", "cross-site")
	r := s.Do("POST", "/api/admin/api-tokens", servicetest.AdminSecret, body, "Origin", "https://other.example")
	if r.Status != http.StatusForbidden {
		t.Fatalf("untrusted origin: status %d, want 403: %s", r.Status, r.Body)
	}
}
