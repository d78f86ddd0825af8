package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
)

// ledger is the ledger's HTTP API as an admin.
type ledger struct {
	base, token string
	http        *http.Client
}

// statusError is an answer the workload did not expect.
type statusError struct {
	method, path string
	status       int
	body         string
}

func (e *statusError) Error() string {
	hint := ""
	if e.status == http.StatusTooManyRequests {
		hint = " (a server the tool did not start needs --mutation-rate 0 and --unauth-rate 0 for these workloads)"
	}
	return fmt.Sprintf("bench: %s %s: %d %s%s", e.method, e.path, e.status, e.body, hint)
}

// do sends a request with the admin credential and reads the answer
// whole; an answer other than want is an error.
func (l *ledger) do(ctx context.Context, method, path string, body []byte, want int) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, l.base+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	if l.token != "" {
		req.Header.Set("Authorization", l.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: %s %s: read the answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, nil, &statusError{method, path, resp.StatusCode, strings.TrimSpace(string(b[:min(len(b), 300)]))}
	}
	return resp, b, nil
}

// created is a token the tool created: its id and secret.
type created struct{ id, secret string }

// create creates a backend token named name and returns its id (from the
// Location header) and secret.
func (l *ledger) create(ctx context.Context, name string) (created, error) {
	body, _ := json.Marshal(map[string]any{"tokenName": name, "type": "backend", "environment": "development",
		"projects": []string{"default"}})
	resp, b, err := l.do(ctx, http.MethodPost, "/api/admin/api-tokens", body, http.StatusCreated)
	if err != nil {
		return created{}, err
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal(b, &out); err != nil || out.Secret == "" {
		return created{}, fmt.Errorf("bench: create: no secret in the answer")
	}
	id, ok := strings.CutPrefix(resp.Header.Get("Location"), "/api/ledger/tokens/")
	if !ok || id == "" {
		return created{}, fmt.Errorf("bench: create: no token id in Location")
	}
	return created{id: id, secret: out.Secret}, nil
}

// validateBody is the /edge/validate request for one secret.
func validateBody(secret string) []byte {
	b, _ := json.Marshal(map[string][]string{"tokens": {secret}})
	return b
}

// validate asks /edge/validate about body's token and reports whether it
// was accepted.
func (l *ledger) validate(ctx context.Context, body []byte) (bool, error) {
	_, b, err := l.do(ctx, http.MethodPost, "/edge/validate", body, http.StatusOK)
	if err != nil {
		return false, err
	}
	var out struct {
		Tokens []json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return false, fmt.Errorf("bench: /edge/validate: %w", err)
	}
	return len(out.Tokens) > 0, nil
}

func (l *ledger) revoke(ctx context.Context, id string) error {
	_, _, err := l.do(ctx, http.MethodDelete, "/api/admin/api-tokens/"+id, nil, http.StatusOK)
	return err
}

// list reads the whole token list and returns how many tokens it held and
// the answer's bytes.
func (l *ledger) list(ctx context.Context) (int, []byte, error) {
	_, b, err := l.do(ctx, http.MethodGet, "/api/admin/api-tokens", nil, http.StatusOK)
	if err != nil {
		return 0, nil, err
	}
	var out struct {
		Tokens []json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, nil, fmt.Errorf("bench: list: %w", err)
	}
	return len(out.Tokens), b, nil
}

// metrics reads the named gauges from /metrics (those present).
func (l *ledger) metrics(ctx context.Context, names ...string) (map[string]float64, error) {
	_, b, err := l.do(ctx, http.MethodGet, "/metrics", nil, http.StatusOK)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, val, ok := strings.Cut(line, " ")
		if !ok || !want[name] {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("bench: /metrics: %s: %w", name, err)
		}
		got[name] = v
	}
	return got, nil
}

// heap is the server's Go heap: live bytes at the last GC where exported,
// else the allocated heap.
func (l *ledger) heap(ctx context.Context) (int64, string, error) {
	m, err := l.metrics(ctx, "go_gc_heap_live_bytes", "go_memstats_heap_alloc_bytes", "tokenledger_tokens")
	if err != nil {
		return 0, "", err
	}
	for _, n := range []string{"go_gc_heap_live_bytes", "go_memstats_heap_alloc_bytes"} {
		if v, ok := m[n]; ok {
			return int64(v), n, nil
		}
	}
	return 0, "", fmt.Errorf("bench: /metrics has no Go heap gauge")
}

// memoryLimit is the server's Go soft memory limit, 0 when it has none
// (or does not export it).
func (l *ledger) memoryLimit(ctx context.Context) (int64, error) {
	m, err := l.metrics(ctx, "go_gc_gomemlimit_bytes")
	if err != nil {
		return 0, err
	}
	if v := m["go_gc_gomemlimit_bytes"]; v > 0 && v < math.MaxInt64/2 {
		return int64(v), nil
	}
	return 0, nil
}
