package service

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

const testAdmin = "*:*.integrity-test-admin-secret-aaaaaaaaaaaaaaaaaaaa"

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLedger runs the real service on dir (embedded NATS, HTTP on
// 127.0.0.1:0) with checkpoints every `every` events.
func startLedger(t *testing.T, dir string, every int, change ...func(*Config)) (*Main, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs, CheckpointEvery: every, CheckpointInterval: time.Hour}
	for _, c := range change {
		c(&cfg)
	}
	m := NewMain(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Run(ctx); err != nil {
		_ = m.Close()
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() { _ = m.Close() })
	return m, logs
}

func get(t *testing.T, m *Main, path, cred string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", m.URL()+path, nil)
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// createProjects appends n events (project creations) through the API.
func createProjects(t *testing.T, m *Main, prefix string, n int) {
	t.Helper()
	for i := range n {
		body := fmt.Sprintf(`{"id":"%s-%d","name":"P %d"}`, prefix, i, i)
		req, _ := http.NewRequest("POST", m.URL()+"/api/admin/projects", strings.NewReader(body))
		req.Header.Set("Authorization", testAdmin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("create project: %d %s", resp.StatusCode, b)
		}
	}
}

// stored reads every record of the stream as stored.
func stored(t *testing.T, m *Main) [][]byte {
	t.Helper()
	last, err := m.Store.LastSequence(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	err = m.Store.ReadStored(context.Background(), 1, last, func(seq uint64, data []byte) error {
		if seq != uint64(len(out)+1) {
			return fmt.Errorf("sequence %d after %d", seq, len(out))
		}
		out = append(out, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waitCheckpoint waits (bounded) until a checkpoint covers every record
// up to seq: one of size ≥ seq, or the checkpoint event at seq itself.
func waitCheckpoint(t *testing.T, m *Main, seq int64) {
	t.Helper()
	for i := 0; i < 400; i++ {
		if n, ok := m.checkpoints.streamSize(); ok && n+1 >= seq {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("no checkpoint covers sequence %d", seq)
}

// streamSize is the size the stream's last checkpoint event signs (the
// ledger serves its tree head when that is newer: checkpoints.newest).
func (c *checkpoints) streamSize() (int64, bool) {
	l := c.latest.Load()
	if l == nil {
		return 0, false
	}
	return l.cp.Size, true
}

func TestCheckpointsSignTheTreeEveryNEventsAndAtShutdown(t *testing.T) {
	dir := t.TempDir()
	m, _ := startLedger(t, dir, 5)
	for round := range 2 {
		createProjects(t, m, fmt.Sprint("p", round), 6)
		last, _ := m.Store.LastSequence(context.Background())
		waitCheckpoint(t, m, int64(last))
	}
	createProjects(t, m, "p2", 2) // fewer than 5: only the shutdown signs them
	vkey := m.VerifierKey()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, _ = startLedger(t, dir, 5) // to read the stream as the shutdown left it
	recs := stored(t, m)
	keys, err := integrity.Verifiers(vkey)
	if err != nil {
		t.Fatal(err)
	}
	// The stream as it stood at the shutdown: its last record is a checkpoint.
	var last uint64
	for i, r := range recs {
		env, err := events.Unmarshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if env.Type == events.TypeCheckpoint {
			p, _ := env.Payload()
			if c := p.(events.Checkpoint); c.Size != int64(i) {
				t.Fatalf("checkpoint at %d signs %d records, want %d", i+1, c.Size, i)
			}
			last = uint64(i + 1)
		}
	}
	v := integrity.NewVerifier(integrity.Config{Keys: keys})
	if err := v.AddBatch(1, recs); err != nil {
		t.Fatal(err)
	}
	rep := v.Finish(uint64(len(recs)))
	if rep.Finding != nil {
		t.Fatal(rep.Finding)
	}
	if rep.Checkpoints < 3 || uint64(rep.Proven) != last-1 {
		t.Fatalf("%d checkpoints verified, proven %d; the last checkpoint event is at %d", rep.Checkpoints, rep.Proven, last)
	}
	kept, err := os.ReadFile(dir + ".checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	// The signed tree head kept beside the data dir counts every record,
	// the shutdown checkpoint included.
	if cp, err := integrity.OpenCheckpoint(kept, keys); err != nil || uint64(cp.Size) != last || cp.Root != rep.Root {
		t.Fatalf("kept tree head %+v (%v), want size %d, root %v", cp, err, last, rep.Root)
	}
}

func TestIntegrityRoutesServeProofsAnAuditorCanCheck(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 4)
	createProjects(t, m, "q", 9)
	waitCheckpoint(t, m, 8)

	status, body := get(t, m, "/api/ledger/checkpoint", testAdmin)
	if status != 200 {
		t.Fatalf("checkpoint: %d %s", status, body)
	}
	var cpj struct {
		Size        int64
		Root        string
		Checkpoint  string
		VerifierKey string
	}
	_ = json.Unmarshal(body, &cpj)
	if cpj.VerifierKey != m.VerifierKey() {
		t.Fatalf("verifier key %q, want %q", cpj.VerifierKey, m.VerifierKey())
	}
	keys, _ := integrity.Verifiers(cpj.VerifierKey)
	cp, err := integrity.OpenCheckpoint([]byte(cpj.Checkpoint), keys)
	if err != nil || cp.Size != cpj.Size {
		t.Fatalf("checkpoint %+v: %v", cp, err)
	}
	recs := stored(t, m)

	// Inclusion of sequence 3 in the checkpoint.
	status, body = get(t, m, "/api/ledger/events/3/proof", testAdmin)
	if status != 200 {
		t.Fatalf("proof: %d %s", status, body)
	}
	var pj struct {
		Seq   uint64
		Size  int64
		Proof []string
	}
	_ = json.Unmarshal(body, &pj)
	if err := integrity.CheckInclusion(decodeHashes(t, pj.Proof), cp.Size, cp.Root, 3, tlog.RecordHash(recs[2])); err != nil || pj.Size != cp.Size {
		t.Fatalf("inclusion proof of 3 in %d: %v", pj.Size, err)
	}
	if err := integrity.CheckInclusion(decodeHashes(t, pj.Proof), cp.Size, cp.Root, 3, tlog.RecordHash(recs[3])); err == nil {
		t.Fatal("the proof of 3 also proves record 4")
	}

	// Consistency of an earlier tree with the checkpoint.
	status, body = get(t, m, fmt.Sprintf("/api/ledger/proof/consistency?from=2&to=%d", cp.Size), testAdmin)
	if status != 200 {
		t.Fatalf("consistency: %d %s", status, body)
	}
	var cj struct {
		FromRoot, ToRoot string
		Proof            []string
	}
	_ = json.Unmarshal(body, &cj)
	old := integrity.NewTree()
	_ = old.Append(recs[0])
	_ = old.Append(recs[1])
	oldRoot, _ := old.Root(2)
	if err := integrity.CheckConsistency(decodeHashes(t, cj.Proof), cp.Size, cp.Root, 2, oldRoot); err != nil {
		t.Fatalf("consistency 2 → %d: %v", cp.Size, err)
	}

	// The whole log as a bundle, checked with the public key alone.
	status, body = get(t, m, "/api/ledger/bundle", testAdmin)
	if status != 200 {
		t.Fatalf("bundle: %d %s", status, body)
	}
	b, err := integrity.ReadBundle(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := integrity.VerifyBundle(b, keys, nil, nil)
	if err != nil || !rep.Complete {
		t.Fatalf("bundle: %+v %v", rep, err)
	}
}

func decodeHashes(t *testing.T, in []string) []tlog.Hash {
	t.Helper()
	out := make([]tlog.Hash, len(in))
	for i, s := range in {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != len(out[i]) {
			t.Fatalf("hash %q", s)
		}
		copy(out[i][:], b)
	}
	return out
}

func TestIntegrityRoutesRefuseBadInputAndNonAdmins(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 3)
	createProjects(t, m, "r", 4)
	waitCheckpoint(t, m, 3)
	tests := []struct {
		path string
		cred string
		want int
	}{
		{"/api/ledger/checkpoint", "", 401},
		{"/api/ledger/checkpoint", "*:*.not-a-token-at-all-aaaaaaaaaaaaaaaaaaaaaaaaaaaa", 401},
		{"/api/ledger/events/abc/proof", testAdmin, 400},
		{"/api/ledger/events/1/proof?size=-1", testAdmin, 400},
		{"/api/ledger/events/0/proof", testAdmin, 422},
		{"/api/ledger/events/99999/proof", testAdmin, 422},
		{"/api/ledger/events/2/proof?size=1", testAdmin, 422},
		{"/api/ledger/proof/consistency?from=5&to=2", testAdmin, 422},
		{"/api/ledger/proof/consistency?from=x", testAdmin, 400},
		{"/api/ledger/proof/consistency?from=1&to=99999", testAdmin, 422},
		{"/api/ledger/bundle?from_seq=3&to_seq=2", testAdmin, 422},
		{"/api/ledger/bundle?to_seq=99999", testAdmin, 422},
	}
	for _, tt := range tests {
		status, body := get(t, m, tt.path, tt.cred)
		if status != tt.want {
			t.Errorf("GET %s: %d %s, want %d", tt.path, status, body, tt.want)
			continue
		}
		var e struct{ Name, Message string }
		if json.Unmarshal(body, &e) != nil || e.Message == "" {
			t.Errorf("GET %s: not the JSON error shape: %s", tt.path, body)
		}
	}
}

func TestServiceRefusesAStreamShorterThanItsKeptCheckpoint(t *testing.T) {
	dir := t.TempDir()
	m, _ := startLedger(t, dir, 1000)
	createProjects(t, m, "s", 2)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	older := filepath.Join(t.TempDir(), "older")
	if err := os.CopyFS(older, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	m, _ = startLedger(t, dir, 1000)
	createProjects(t, m, "t", 3)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// The attacker puts yesterday's data dir back: the checkpoint kept
	// beside it signs more records than it holds.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(older, dir); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	env := map[string]string{"INIT_ADMIN_API_TOKENS": testAdmin}
	m = NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", ExpiryEvery: time.Hour, Replicas: 1, NoSync: true,
		Getenv: func(k string) string { return env[k] }, LogOutput: logs})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	_ = m.Close()
	if !errors.Is(err, integrity.ErrTampered) || !strings.Contains(err.Error(), "truncation at sequence") {
		t.Fatalf("Run = %v, want a refusal naming the truncation", err)
	}
}

func TestSigningKeyIsMadeBesideTheDataDirOnceAndAnnounced(t *testing.T) {
	dir := t.TempDir()
	m, logs := startLedger(t, dir, 1000)
	vkey := m.VerifierKey()
	fi, err := os.Stat(dir + ".signing-key")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), vkey) {
		t.Fatalf("no WARN line with the verifier key %q:\n%s", vkey, logs.String())
	}
	key, _ := os.ReadFile(dir + ".signing-key")
	if strings.Contains(logs.String(), strings.TrimSpace(string(key))) {
		t.Fatal("the private key was logged")
	}
	_ = m.Close()
	m, logs = startLedger(t, dir, 1000)
	if m.VerifierKey() != vkey || strings.Contains(logs.String(), "GENERATED") {
		t.Fatal("a restart made a new key")
	}
}

func TestSigningKeyInsideTheDataDirIsRefused(t *testing.T) {
	dir := t.TempDir()
	m := NewMain(Config{Listen: "127.0.0.1:0", DataDir: dir, NATSListen: "off", Replicas: 1, NoSync: true,
		SigningKey: filepath.Join(dir, "jetstream", "key"), LogOutput: io.Discard, Getenv: func(string) string { return "" }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := m.Run(ctx)
	_ = m.Close()
	if err == nil || !strings.Contains(err.Error(), "inside the data dir") {
		t.Fatalf("Run = %v, want a refusal", err)
	}
}

func TestCheckpointFlags(t *testing.T) {
	c, err := ParseConfig(nil, func(string) string { return "" })
	if err != nil || c.CheckpointEvery != 1000 || c.CheckpointInterval != time.Minute || c.SigningKey != "" {
		t.Fatalf("defaults: %+v %v", c, err)
	}
	c, err = ParseConfig([]string{"--checkpoint-every", "50", "--checkpoint-interval", "5s", "--signing-key", "/k"}, func(string) string { return "" })
	if err != nil || c.CheckpointEvery != 50 || c.CheckpointInterval != 5*time.Second || c.SigningKey != "/k" {
		t.Fatalf("flags: %+v %v", c, err)
	}
	for _, args := range [][]string{{"--checkpoint-every", "0"}, {"--checkpoint-interval", "0s"}, {"--checkpoint-interval", "soon"}} {
		if _, err := ParseConfig(args, func(string) string { return "" }); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
