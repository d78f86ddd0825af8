package integrity_test

import (
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// key is a ledger key made the way the ledger makes one.
type key struct {
	signer note.Signer
	vkey   string
	keys   note.Verifiers
}

func newKey(tb testing.TB, name string) key {
	tb.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	keys, err := integrity.Verifiers(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return key{signer: s, vkey: vkey, keys: keys}
}

// testLog builds a stream as the ledger writes it: token events chained
// per aggregate, and log.checkpoint events at size seq-1.
type testLog struct {
	tb      testing.TB
	key     key
	records [][]byte
	tree    *integrity.Tree
	last    map[string]string
	lastCP  string
	notes   map[int64][]byte // checkpoint notes by size
	t0      time.Time
	// mark, when set, changes each record's bytes before they are stored.
	mark func([]byte) []byte
	// sign, when set, signs every event, checkpoints included (as the
	// ledger does).
	sign events.Signer
}

func newTestLog(tb testing.TB, k key) *testLog {
	return &testLog{tb: tb, key: k, tree: integrity.NewTree(), last: map[string]string{}, notes: map[int64][]byte{},
		t0: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
}

func (l *testLog) add(data []byte) {
	l.tb.Helper()
	if l.mark != nil {
		data = l.mark(data)
	}
	l.records = append(l.records, data)
	if err := l.tree.Append(data); err != nil {
		l.tb.Fatal(err)
	}
}

// event appends an event of token aggregate agg and returns its sequence.
func (l *testLog) event(agg string, p events.Payload) uint64 {
	l.tb.Helper()
	seq := len(l.records) + 1
	env, err := events.New(fmt.Sprintf("ev-%07d", seq), agg, p, l.t0.Add(time.Duration(seq)*time.Millisecond))
	if err != nil {
		l.tb.Fatal(err)
	}
	env.Actor = events.System
	env.Prev = l.last[agg]
	if err := env.Seal(); err != nil {
		l.tb.Fatal(err)
	}
	l.last[agg] = env.Hash
	b, err := events.Marshal(&env)
	if err != nil {
		l.tb.Fatal(err)
	}
	l.add(b)
	return uint64(seq)
}

// revoke appends a token.revoked event of token agg.
func (l *testLog) revoke(agg string) uint64 {
	return l.event(agg, events.TokenRevoked{Reason: "compromised"})
}

// checkpoint appends a checkpoint of everything so far, signed with k.
func (l *testLog) checkpoint(k key) uint64 {
	l.tb.Helper()
	n := int64(len(l.records))
	root, err := l.tree.Root(n)
	if err != nil {
		l.tb.Fatal(err)
	}
	cp := integrity.Checkpoint{Origin: k.signer.Name(), Size: n, Root: root}
	signed, err := integrity.SignCheckpoint(cp, k.signer)
	if err != nil {
		l.tb.Fatal(err)
	}
	env, err := integrity.CheckpointEvent(fmt.Sprintf("cp-%07d", n+1), l.t0, cp, signed, l.lastCP)
	if err != nil {
		l.tb.Fatal(err)
	}
	if l.sign != nil {
		if err := env.Sign(l.sign); err != nil {
			l.tb.Fatal(err)
		}
	}
	l.lastCP = env.Hash
	l.notes[n] = signed
	b, err := events.Marshal(&env)
	if err != nil {
		l.tb.Fatal(err)
	}
	l.add(b)
	return uint64(n + 1)
}

// fill appends n events over a few aggregates, with a checkpoint every
// every events.
func (l *testLog) fill(n, every int) {
	for i := 0; i < n; i++ {
		l.event(fmt.Sprintf("tok-%d", i%7), events.TokenExpired{ExpiresAt: l.t0})
		if every > 0 && len(l.records)%every == every-1 {
			l.checkpoint(l.key)
		}
	}
}

// verify runs a Verifier over records numbered from 1.
func verify(tb testing.TB, cfg integrity.Config, records [][]byte, claimedLast uint64, trust ...func(*integrity.Verifier)) integrity.Report {
	tb.Helper()
	v := integrity.NewVerifier(cfg)
	for _, f := range trust {
		f(v)
	}
	for i, r := range records {
		if err := v.Add(uint64(i+1), r); err != nil {
			break
		}
	}
	return v.Finish(claimedLast)
}

func clone(records [][]byte) [][]byte {
	out := make([][]byte, len(records))
	for i, r := range records {
		out[i] = append([]byte(nil), r...)
	}
	return out
}
