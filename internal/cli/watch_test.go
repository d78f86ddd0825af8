package cli_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/internal/cli"
	"github.com/tokenledger/tokenledger/internal/feedtest"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// watchLine is one line of watch --json.
type watchLine struct {
	FeedSeq   uint64 `json:"feedSeq"`
	LedgerSeq uint64 `json:"ledgerSeq"`
	Subject   string `json:"subject"`
	Event     struct {
		Type      string `json:"type"`
		Aggregate string `json:"aggregate"`
	} `json:"event"`
}

// startWatch runs "tokenledger watch" with args against l as the reader
// and returns its output lines; it is interrupted when the test ends and
// must then exit 0.
func startWatch(t *testing.T, l *feedtest.Ledger, args ...string) <-chan string {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	stderr := &syncBuffer{}
	go func() {
		done <- cli.Run(ctx, append([]string{"watch", "--nats-url", l.URL(), "--nkey-seed", l.SeedFile}, args...),
			cli.Env{Stdout: pw, Stderr: stderr, Getenv: func(string) string { return "" }})
		_ = pw.Close()
	}()
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != cli.ExitOK {
			t.Errorf("watch exited %d: %s", code, stderr.String())
		}
	})
	// Once it says where it starts, every later event is after it.
	deadline := time.Now().Add(feedtest.Wait)
	for !strings.Contains(stderr.String(), "watching token events from feed sequence") {
		if time.Now().After(deadline) {
			t.Fatalf("watch did not start: %s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
	return lines
}

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func nextLine(t *testing.T, lines <-chan string) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("watch stopped")
		}
		return l
	case <-time.After(feedtest.Wait):
		t.Fatal("no line from watch")
	}
	return ""
}

func nextJSON(t *testing.T, lines <-chan string) watchLine {
	t.Helper()
	var w watchLine
	l := nextLine(t, lines)
	if err := json.Unmarshal([]byte(l), &w); err != nil {
		t.Fatalf("watch printed %q: %v", l, err)
	}
	return w
}

// waitFeed waits until the feed holds n events (the ledger publishes each
// a moment after its append).
func waitFeed(t *testing.T, l *feedtest.Ledger, n uint64) {
	t.Helper()
	rd := l.Reader(t)
	deadline := time.Now().Add(feedtest.Wait)
	for {
		last, err := feed.LastSequence(feedtest.Ctx(t), rd)
		if err == nil && last >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the feed holds %d events (%v), want %d", last, err, n)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, not an assertion
	}
}

// watch prints revocations and expiries from now on (nothing from
// before it started), everything from a feed sequence with --all, and
// from a time with --since; human lines name the event and the token.
func TestWatchPrintsRevocationsFromNowFromSequenceAndSinceTime(t *testing.T) {
	const (
		secretA = "default:production.watch-test-secret-a-0123456789abcdef"
		secretB = "default:production.watch-test-secret-b-0123456789abcdef"
	)
	l := feedtest.Start(t)
	a := l.Create(t, secretA, nil)
	l.Revoke(t, a)
	waitFeed(t, l, 2)
	between := time.Now()

	fromNow := startWatch(t, l, "--json")
	human := startWatch(t, l)
	all := startWatch(t, l, "--from-seq", "1", "--all", "--json")
	since := startWatch(t, l, "--since", between.UTC().Format(time.RFC3339Nano), "--json")
	// Each watch knows where it starts before these events.
	b := l.Create(t, secretB, nil)
	revB := l.Revoke(t, b)

	for name, lines := range map[string]<-chan string{"from now": fromNow, "since": since} {
		if w := nextJSON(t, lines); w.Event.Type != "token.revoked" || w.Event.Aggregate != b.ID || w.LedgerSeq != revB || w.FeedSeq != 4 {
			t.Errorf("%s: first line %+v, want the revocation of %s at ledger sequence %d, feed sequence 4", name, w, b.ID, revB)
		}
	}
	var got []string
	for range 4 {
		w := nextJSON(t, all)
		got = append(got, fmt.Sprintf("%d %s %s", w.FeedSeq, w.Event.Type, w.Event.Aggregate))
	}
	want := []string{"1 token.created " + a.ID, "2 token.revoked " + a.ID, "3 token.created " + b.ID, "4 token.revoked " + b.ID}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("--from-seq 1 --all printed\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	line := nextLine(t, human)
	for _, part := range []string{"token.revoked", b.ID, "reason=compromised", fmt.Sprintf("ledger-seq=%d", revB), "feed-seq=4"} {
		if !strings.Contains(line, part) {
			t.Errorf("human line %q lacks %q", line, part)
		}
	}
}
