package service

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/integrity"
)

// Hostile query values on the integrity routes: numbers past int64 and
// uint64, the largest uint64, sizes equal to the tree's and the latest
// checkpoint's, since equal to the latest size. Each gets a 2xx whose
// proof verifies or a 400/404/409/422 with the JSON error shape: never a
// 500, never a panic.
func TestIntegrityRoutesAnswerHostileNumbersWithAClearError(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 3)
	createProjects(t, m, "h", 7)
	waitCheckpoint(t, m, 9)
	_, latest, _, _ := m.checkpoints.Latest()
	size := m.Integrity.Tree().Size()
	const u64max = "18446744073709551615"
	const i64over = "9223372036854775808"
	paths := []string{
		"/api/ledger/events/" + u64max + "/proof",
		"/api/ledger/events/" + i64over + "/proof",
		"/api/ledger/events/18446744073709551616/proof",
		"/api/ledger/events/1/proof?size=" + u64max,
		"/api/ledger/events/1/proof?size=" + i64over,
		fmt.Sprintf("/api/ledger/events/1/proof?size=%d", size),
		fmt.Sprintf("/api/ledger/events/%d/proof?size=%d", size, size),
		fmt.Sprintf("/api/ledger/events/%d/proof", latest),
		"/api/ledger/events/1/proof?size=0",
		"/api/ledger/events/1/proof?size=1&size=1",
		"/api/ledger/events/-1/proof",
		"/api/ledger/events/%2B1/proof",
		"/api/ledger/events/1e3/proof",
		"/api/ledger/proof/consistency?from=" + u64max + "&to=" + u64max,
		"/api/ledger/proof/consistency?from=" + i64over,
		"/api/ledger/proof/consistency?from=1&to=" + i64over,
		fmt.Sprintf("/api/ledger/proof/consistency?from=%d&to=%d", size, size),
		fmt.Sprintf("/api/ledger/proof/consistency?from=%d", latest),
		"/api/ledger/proof/consistency?from=0&to=0",
		"/api/ledger/proof/consistency?to=1",
		"/api/ledger/bundle?from_seq=" + u64max + "&to_seq=" + u64max,
		"/api/ledger/bundle?from_seq=" + u64max,
		"/api/ledger/bundle?to_seq=" + u64max,
		"/api/ledger/bundle?since=" + u64max,
		"/api/ledger/bundle?since=" + i64over,
		fmt.Sprintf("/api/ledger/bundle?since=%d", latest),
		fmt.Sprintf("/api/ledger/bundle?from_seq=%d&to_seq=%d&since=%d", latest, latest, latest),
		"/api/ledger/bundle?from_seq=0&to_seq=0&since=0",
		"/api/ledger/bundle?from_seq=1&to_seq=1&from_seq=1",
		"/api/ledger/bundle?from_seq=1&to_seq=20001",
	}
	for _, p := range paths {
		status, body := get(t, m, p, testAdmin)
		t.Logf("GET %s: %d %.200s", p, status, body)
		switch status {
		case 200:
			checkIntegrityAnswer(t, m, p, body)
		case 400, 404, 409, 422:
			var e struct{ Name, Message string }
			if json.Unmarshal(body, &e) != nil || e.Message == "" {
				t.Errorf("GET %s: %d, not the JSON error shape: %s", p, status, body)
			}
		default:
			t.Errorf("GET %s: %d %s, want 200 or a 4xx with a clear error", p, status, body)
		}
	}
}

// checkIntegrityAnswer checks a 200 of an integrity route: an inclusion
// proof proves its leaf under its root, a consistency proof its roots, a
// bundle verifies with the ledger's key.
func checkIntegrityAnswer(t *testing.T, m *Main, path string, body []byte) {
	t.Helper()
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		t.Errorf("GET %s: 200 that is not JSON: %.200s", path, body)
		return
	}
	switch {
	case probe["format"] != nil:
		b, err := integrity.ReadBundle(bytesReader(body))
		if err != nil {
			t.Errorf("GET %s: %v", path, err)
			return
		}
		keys, err := integrity.Verifiers(m.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if b.Consistency != nil && b.Consistency.From < 1 {
			t.Errorf("GET %s: a consistency proof from %d", path, b.Consistency.From)
		}
		if _, err := integrity.VerifyBundle(b, keys, nil, nil); err != nil {
			t.Errorf("GET %s: the bundle does not verify: %v", path, err)
		}
	case probe["leafHash"] != nil:
		var a struct {
			Seq      uint64
			Size     int64
			Root     string
			LeafHash string
			Proof    []string
		}
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if err := integrity.CheckInclusion(decodeHashes(t, a.Proof), a.Size, decodeHashes(t, []string{a.Root})[0], a.Seq, decodeHashes(t, []string{a.LeafHash})[0]); err != nil {
			t.Errorf("GET %s: the inclusion proof does not verify: %v", path, err)
		}
	case probe["fromRoot"] != nil:
		var a struct {
			From, To         int64
			FromRoot, ToRoot string
			Proof            []string
		}
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if err := integrity.CheckConsistency(decodeHashes(t, a.Proof), a.To, decodeHashes(t, []string{a.ToRoot})[0], a.From, decodeHashes(t, []string{a.FromRoot})[0]); err != nil {
			t.Errorf("GET %s: the consistency proof does not verify: %v", path, err)
		}
	default:
		t.Errorf("GET %s: 200 of an unknown shape: %.200s", path, body)
	}
}

// Sixteen requests at once on each proof route and the bundle route,
// while the ledger appends: each answer is a proof that verifies or a
// bounded refusal (409 for a bundle whose checkpoint moved, 429/503 for
// whole-ledger reads past the limit), and none takes long.
func TestIntegrityRoutesStayCorrectUnderSixteenConcurrentRequests(t *testing.T) {
	m, _ := startLedger(t, t.TempDir(), 5)
	createProjects(t, m, "c", 12)
	waitCheckpoint(t, m, 13)
	stop := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() { // appends meanwhile, bounded
		defer writer.Done()
		for i := 0; i < 20; i++ {
			select {
			case <-stop:
				return
			default:
			}
			createProjects(t, m, fmt.Sprintf("w%d", i), 1)
		}
	}()
	paths := []string{
		"/api/ledger/events/3/proof",
		"/api/ledger/proof/consistency?from=2",
		"/api/ledger/bundle?since=4",
		"/api/ledger/checkpoint",
	}
	type answer struct {
		path   string
		status int
		body   []byte
		took   time.Duration
	}
	answers := make(chan answer, 16*len(paths))
	var wg sync.WaitGroup
	for _, p := range paths {
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				req, _ := http.NewRequest("GET", m.URL()+p, nil)
				req.Header.Set("Authorization", testAdmin)
				client := &http.Client{Timeout: 20 * time.Second}
				resp, err := client.Do(req)
				if err != nil {
					answers <- answer{path: p, status: -1, body: []byte(err.Error())}
					return
				}
				defer resp.Body.Close()
				var buf [1 << 20]byte
				n, _ := readFull(resp.Body, buf[:])
				answers <- answer{p, resp.StatusCode, append([]byte(nil), buf[:n]...), time.Since(start)}
			}()
		}
	}
	wg.Wait()
	close(stop)
	writer.Wait()
	close(answers)
	counts := map[string]map[int]int{}
	for a := range answers {
		if counts[a.path] == nil {
			counts[a.path] = map[int]int{}
		}
		counts[a.path][a.status]++
		if a.took > 10*time.Second {
			t.Errorf("GET %s took %v", a.path, a.took)
		}
		switch {
		case a.status == 200 && a.path != "/api/ledger/checkpoint":
			checkIntegrityAnswer(t, m, a.path, a.body)
		case a.status == 200:
		case a.status == 409 || a.status == 429 || a.status == 503:
			var e struct{ Message string }
			if json.Unmarshal(a.body, &e) != nil || e.Message == "" {
				t.Errorf("GET %s: %d, not the JSON error shape: %s", a.path, a.status, a.body)
			}
		default:
			t.Errorf("GET %s: %d %.300s", a.path, a.status, a.body)
		}
	}
	t.Logf("statuses: %v", counts)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func readFull(r io.Reader, buf []byte) (int, error) { return io.ReadFull(r, buf) }
