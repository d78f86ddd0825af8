package service

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// switchProxy is a loopback proxy in front of one ledger, then another
// (the same data dir restarted): the first bundle request is answered
// 503 with Retry-After 1, as a restarting ledger's starting handler
// answers, and reported on hit; every later request goes to the current
// upstream.
type switchProxy struct {
	srv      *httptest.Server
	upstream atomic.Pointer[httputil.ReverseProxy]
	first    sync.Once
	hit      chan struct{}
	gate     chan struct{} // closed once the upstream switched
}

func newSwitchProxy(t *testing.T, m *Main) *switchProxy {
	p := &switchProxy{hit: make(chan struct{}), gate: make(chan struct{})}
	p.point(m)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/ledger/bundle") {
			held := false
			p.first.Do(func() { held = true })
			if held {
				close(p.hit)
				w.Header().Set("Retry-After", "1")
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"name":"ServiceUnavailableError","message":"tokenledger is starting: opening the ledger stream"}` + "\n"))
				return
			}
			<-p.gate
		}
		p.upstream.Load().ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *switchProxy) point(m *Main) {
	u, _ := url.Parse(m.URL())
	p.upstream.Store(httputil.NewSingleHostReverseProxy(u))
}

// verify --server reads the server's checkpoint, then its bundles; since
// the CLI waits out a 503 with Retry-After, a restart of the ledger can
// fall between the two. A restart that rotates the signing key (a
// routine operation) must not turn into a verdict of tampering: the
// auditor gave the key the ledger signed with when the command started
// (or trusted the one it named). Whatever the CLI says, it must not be
// TAMPERED for a genuine ledger: without the new key it could not verify
// (exit 1), as when it starts after the rotation with the old key alone.
func TestAttackR28VerifyServerAcrossARotatingRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys func(old string) []string
	}{
		{"the key at the start given", func(old string) []string { return []string{"--key", old} }},
		{"no key (the server's named)", func(string) []string { return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := stoppedLedger(t)
			old, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
			if err != nil {
				t.Fatal(err)
			}
			m1 := startLedgerChecked(t, dir, 4)
			p := newSwitchProxy(t, m1)

			type outcome struct {
				code        int
				out, errOut string
			}
			done := make(chan outcome, 1)
			go func() {
				args := append([]string{"verify", "--server", p.srv.URL}, tc.keys(old.VerifierKey())...)
				code, out, errOut := runCLI(t, args...)
				done <- outcome{code, out, errOut}
			}()
			select {
			case <-p.hit:
			case o := <-done:
				t.Fatalf("verify ended before its first bundle: exit %d\n%s%s", o.code, o.out, o.errOut)
			case <-time.After(20 * time.Second):
				t.Fatal("verify never asked for a bundle")
			}
			if err := m1.Close(); err != nil {
				t.Fatal(err)
			}
			m2 := startLedgerChecked(t, dir, 4, func(c *Config) { c.RotateSigningKey = true })
			if m2.VerifierKey() == old.VerifierKey() {
				t.Fatal("the key did not rotate")
			}
			p.point(m2)
			close(p.gate)
			var o outcome
			select {
			case o = <-done:
			case <-time.After(50 * time.Second):
				t.Fatal("verify did not end")
			}
			t.Logf("verify across a rotating restart: exit %d\n%s%s", o.code, o.out, o.errOut)
			if o.code == cli.ExitTampered || strings.Contains(o.out, "TAMPERED") {
				t.Errorf("verify --server across a genuine rotating restart: exit %d, %q: a false verdict of tampering", o.code, o.out)
			}
		})
	}
}

// export --bundle waits out the same restart (its first bundle asked for
// under the old key, answered under the new one): the file verifies
// intact with both keys of the chain, and the export says what it wrote.
func TestAttackR28ExportAcrossARotatingRestart(t *testing.T) {
	dir := stoppedLedger(t)
	old, err := ledgerkey.Load(ledgerkey.DefaultFile(dir))
	if err != nil {
		t.Fatal(err)
	}
	m1 := startLedgerChecked(t, dir, 4)
	p := newSwitchProxy(t, m1)
	out := filepath.Join(t.TempDir(), "ledger.bundle.json")
	type outcome struct {
		code        int
		out, errOut string
	}
	done := make(chan outcome, 1)
	go func() {
		code, o, e := runCLI(t, "export", "--server", p.srv.URL, "--bundle", out)
		done <- outcome{code, o, e}
	}()
	select {
	case <-p.hit:
	case o := <-done:
		t.Fatalf("export ended before its first bundle: exit %d\n%s%s", o.code, o.out, o.errOut)
	case <-time.After(20 * time.Second):
		t.Fatal("export never asked for a bundle")
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := startLedgerChecked(t, dir, 4, func(c *Config) { c.RotateSigningKey = true })
	p.point(m2)
	close(p.gate)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(50 * time.Second):
		t.Fatal("export did not end")
	}
	t.Logf("export across a rotating restart: exit %d\n%s%s", o.code, o.out, o.errOut)
	if o.code != cli.ExitOK {
		t.Fatalf("export across a rotating restart: exit %d", o.code)
	}
	code, vout, verr := runCLI(t, "verify", "--bundle", out, "--key", old.VerifierKey(), "--key", m2.VerifierKey())
	if code != cli.ExitOK {
		t.Errorf("verify --bundle (exported across the restart) with both keys: exit %d\n%s%s", code, vout, verr)
	}
	code, vout, verr = runCLI(t, "verify", "--bundle", out, "--key", old.VerifierKey())
	t.Logf("verify --bundle with the old key alone: exit %d\n%s%s", code, vout, verr)
}
