package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/natstest"
	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// Two replicas of one ledger on a cluster, each keeping (and, since
// a31c72e, serving) its own signed tree head. An auditor verifies replica
// A and keeps the checkpoint it served (A's head: every record A applied).
// The auditor then verifies replica B, behind a load balancer say, with
// that checkpoint, while B is still applying the last of those records (a
// replica catching up after a network blip, a GC pause under a burst):
// B's head and tree are a few records short of the kept head when verify
// asks, B has applied them by the time verify reads its bundles. Nothing
// was taken away: the stream holds every record the kept head signs, and
// B proves it once its projections applied them. verify must not answer
// TAMPERED (exit 7, tail-truncation) for this honest cluster: intact, or
// could not verify (exit 1), as the decisions say of "a lagging replica".
//
// Before the tree head was served, A served the stream's last checkpoint
// event (up to 1,000 events or a minute behind its tree), so B had that
// much slack; now the head the auditor keeps is A's newest record, and
// any lag of B's at that instant reads as tail-truncation.
func TestVerifyServerAgainstAReplicaStillApplyingTheKeptHeadIsNotTampered(t *testing.T) {
	l := startLaggingReplica(t)
	b, vkey, kept, cp := l.b, l.vkey, l.kept, l.cp

	lb := l.behindProxy(t, true)

	var stdout, stderr bytes.Buffer
	env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := cli.Run(ctx, []string{"verify", "--server", lb.URL, "--key", vkey, "--since-checkpoint", kept},
		cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
	t.Logf("verify --server B --since-checkpoint (A's head): exit %d\n%s%s", code, stdout.String(), stderr.String())
	if code == cli.ExitTampered || strings.Contains(stdout.String(), "TAMPERED") {
		t.Errorf("verify --server against an honest replica still applying the kept head's records: exit %d (TAMPERED), want intact", code)
	}
	// verify asks for a checkpoint at least as long as the kept one
	// (min_size): the replica answers once it applied and signed it.
	if code != cli.ExitOK {
		t.Errorf("verify: exit %d, want 0 (intact)", code)
	}
	// The kept head is genuine: once B applied it, B's tree proves it.
	servicetest.WaitFor(t, 20*time.Second, func() error {
		if b.Integrity.Tree().Size() < cp.Size {
			return fmt.Errorf("b's tree holds %d records", b.Integrity.Tree().Size())
		}
		return nil
	})
	keys, _ := integrity.Verifiers(vkey)
	if k, err := integrity.OpenCheckpoint([]byte(cp.Checkpoint), keys); err != nil {
		t.Fatal(err)
	} else if root, err := b.Integrity.Tree().Root(k.Size); err != nil || root != k.Root {
		t.Fatalf("b's tree at %d: %v %v, the kept head signs %v", k.Size, root, err, k.Root)
	}
}

// laggingReplica is two replicas a and b of one ledger on a cluster,
// each keeping (and serving) its own signed tree head, with b's
// projections held (free lets them go on) while a appended three more
// records: kept is the file of a's head (cp), which b has not applied.
type laggingReplica struct {
	a, b *servicetest.Service
	vkey string
	kept string
	cp   struct {
		Size       int64  `json:"size"`
		Checkpoint string `json:"checkpoint"`
	}
	free func()
}

func startLaggingReplica(t *testing.T) *laggingReplica {
	t.Helper()
	l := &laggingReplica{}
	c := natstest.StartCluster(t, 3, nil)
	key := filepath.Join(t.TempDir(), "ledger.signing-key")
	start := func(head string) *servicetest.Service {
		return servicetest.StartWith(t, "", nil, func(cfg *service.Config) {
			cfg.NATSURL, cfg.MutationRate, cfg.ReadWait = c.URLs(), 0, 10*time.Second
			cfg.SigningKey, cfg.TreeHead = key, head
			cfg.AllowUnsafeDurability = true // no system user to prove the nodes' sync_interval: always
		})
	}
	a := start(filepath.Join(t.TempDir(), "a.head"))
	b := start(filepath.Join(t.TempDir(), "b.head"))
	vkey := a.VerifierKey()
	a.Must(201, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
		map[string]any{"tokenName": "before", "type": "backend", "environment": "development"})
	servicetest.WaitFor(t, 20*time.Second, func() error {
		if b.Runner.LastApplied() < a.Runner.LastApplied() {
			return fmt.Errorf("b applied %d, a %d", b.Runner.LastApplied(), a.Runner.LastApplied())
		}
		return nil
	})

	// B stops applying (bounded: released by the first bundle request,
	// or at the end of the test).
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	free := func() { once.Do(func() { close(release) }) }
	t.Cleanup(free)
	go func() {
		_ = b.Runner.Hold(func(uint64) error {
			close(held)
			select {
			case <-release:
			case <-time.After(time.Minute):
			}
			return nil
		})
	}()
	<-held
	for i := range 3 {
		a.Must(201, "POST", "/api/admin/api-tokens", servicetest.AdminSecret,
			map[string]any{"tokenName": "during-" + string(rune('a'+i)), "type": "backend", "environment": "development"})
	}
	r := a.Must(200, "GET", "/api/ledger/checkpoint", servicetest.AdminSecret, nil)
	cp := &l.cp
	if err := json.Unmarshal(r.Body, cp); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(t.TempDir(), "a.checkpoint")
	if err := os.WriteFile(kept, []byte(cp.Checkpoint), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := b.Integrity.Tree().Size(); n >= cp.Size {
		t.Fatalf("replica b's tree holds %d records, the kept head of a %d: b is not behind", n, cp.Size)
	}
	t.Logf("the auditor keeps a's head of %d records; b's tree holds %d", cp.Size, b.Integrity.Tree().Size())
	l.a, l.b, l.vkey, l.kept, l.free = a, b, vkey, kept, free
	return l
}

// behindProxy is b behind a loopback proxy: b's projections go on 200 ms
// after a question past b's checkpoint reaches it (a checkpoint asked
// for with min_size, a proof: b is behind when asked, and catches up
// meanwhile), and, with freeAtBundle, at the latest at the first bundle.
func (l *laggingReplica) behindProxy(t *testing.T, freeAtBundle bool) *httptest.Server {
	target, _ := url.Parse(l.b.URL())
	rp := httputil.NewSingleHostReverseProxy(target)
	lb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/ledger/bundle"):
			if freeAtBundle {
				l.free()
			}
		case r.URL.Path != "/api/ledger/checkpoint" || r.URL.Query().Has("min_size"):
			time.AfterFunc(200*time.Millisecond, l.free)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(lb.Close)
	return lb
}

// An auditor's incremental export from a replica still applying the
// records of the head it kept from another (export --bundle --since N):
// the export asks for a checkpoint of at least N records, the replica
// answers once it applied and signed them, and the bundle proves the
// kept head extended (verify --bundle --since-checkpoint: intact), where
// before it was built under the replica's shorter checkpoint and
// refused (since past it).
func TestExportSinceAKeptHeadFromAReplicaStillApplyingItVerifies(t *testing.T) {
	l := startLaggingReplica(t)
	lb := l.behindProxy(t, false) // b goes on only when asked for min_size
	file := filepath.Join(t.TempDir(), "ledger.bundle.json")
	env := map[string]string{cli.EnvToken: servicetest.AdminSecret}
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		code := cli.Run(ctx, args, cli.Env{Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}
	if code, out := run("export", "--server", lb.URL, "--bundle", file, "--since", fmt.Sprint(l.cp.Size)); code != cli.ExitOK {
		t.Fatalf("export --bundle --since %d from the replica still applying them: exit %d\n%s", l.cp.Size, code, out)
	}
	if code, out := run("verify", "--bundle", file, "--key", l.vkey, "--since-checkpoint", l.kept); code != cli.ExitOK {
		t.Errorf("verify --bundle --since-checkpoint (a's head) of b's bundle: exit %d\n%s", code, out)
	}
}
