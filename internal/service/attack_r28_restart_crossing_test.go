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

// cliOutcome is how a command line run ended.
type cliOutcome struct {
	code        int
	out, errOut string
}

// acrossRotatingRestart runs the command line (args, then --server and
// the proxy's address) and, once it asked for its first bundle (held
// with a 503), stops m1 and starts its data dir dir again with a rotated
// key behind the proxy; it returns the command's outcome and the new
// ledger.
func (p *switchProxy) acrossRotatingRestart(t *testing.T, m1 *Main, dir string, args ...string) (cliOutcome, *Main) {
	t.Helper()
	done := make(chan cliOutcome, 1)
	go func() {
		code, out, errOut := runCLI(t, append(args, "--server", p.srv.URL)...)
		done <- cliOutcome{code, out, errOut}
	}()
	select {
	case <-p.hit:
	case o := <-done:
		t.Fatalf("%s ended before its first bundle: exit %d\n%s%s", args[0], o.code, o.out, o.errOut)
	case <-time.After(20 * time.Second):
		t.Fatalf("%s never asked for a bundle", args[0])
	}
	if err := m1.Close(); err != nil {
		t.Fatal(err)
	}
	m2 := startLedgerChecked(t, dir, 4, func(c *Config) { c.RotateSigningKey = true })
	p.point(m2)
	close(p.gate)
	select {
	case o := <-done:
		t.Logf("%s across a rotating restart: exit %d\n%s%s", args[0], o.code, o.out, o.errOut)
		return o, m2
	case <-time.After(50 * time.Second):
		t.Fatalf("%s did not end", args[0])
	}
	return cliOutcome{}, nil
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
			o, m2 := p.acrossRotatingRestart(t, m1, dir, append([]string{"verify"}, tc.keys(old.VerifierKey())...)...)
			if m2.VerifierKey() == old.VerifierKey() {
				t.Fatal("the key did not rotate")
			}
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
	o, m2 := p.acrossRotatingRestart(t, m1, dir, "export", "--bundle", out)
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
