package httpapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Admin-only routes are declared as such once, in the route table
// (s.admin); no handler checks ADMIN itself, so a newcomer sees who may
// call a route where it is registered.
func TestAdminOnlyRoutesAreDeclaredInTheRouteTable(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var admin int
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(b)
		calls := strings.Count(src, "requireAdmin(p)")
		if f == "auth.go" {
			calls-- // the s.admin wrapper itself
		}
		if f == "server.go" {
			admin = strings.Count(src, "s.admin(s.")
		}
		if calls > 0 {
			t.Errorf("%s checks ADMIN inside %d handler(s): register the route with s.admin instead", f, calls)
		}
	}
	if admin < 30 {
		t.Errorf("the route table declares %d admin-only routes; expected the ledger's ~36", admin)
	}
}
