package cli

import (
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
	"github.com/tokenledger/tokenledger/internal/storetest"
)

// sinceRange is a bundle part of n records (sequences 1..n, one token
// each) signed by key, and a since-chain started at a checkpoint of kept
// records signed by key.
func sinceRange(tb testing.TB, key *ledgerkey.Key, n, kept int) (*integrity.Bundle, *sinceChain) {
	tb.Helper()
	b := &integrity.Bundle{FromSeq: 1, ToSeq: uint64(n)}
	for i := 1; i <= n; i++ {
		b.Events = append(b.Events, integrity.BundleEvent{Seq: uint64(i), Data: signedRecord(tb, key, i)})
	}
	since, err := integrity.SignCheckpoint(integrity.Checkpoint{Origin: key.Name(), Size: int64(kept)}, key.Signer())
	if err != nil {
		tb.Fatal(err)
	}
	s, err := newSinceChain(since, note.VerifierList(key.Verifier()), key.VerifierKey(), uint64(kept)+1)
	if err != nil {
		tb.Fatal(err)
	}
	return b, s
}

// signedRecord is the stored bytes of a token.created signed by key.
func signedRecord(tb testing.TB, key *ledgerkey.Key, i int) []byte {
	tb.Helper()
	c := storetest.TokenCreated()
	c.Verifier = events.VerifierHex(fmt.Sprintf("default:development.%056x", i))
	e := storetest.Event(tb, storetest.NewAggregateID(), c, "")
	if err := e.Sign(key); err != nil {
		tb.Fatal(err)
	}
	data, err := events.Marshal(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// Ensure the since-chain, which checks a range's signatures on all CPUs
// before it follows them in order, names the first bad record of the
// range whatever the others are: a signature that does not verify, a
// record signed by a key the chain never reached, a record that does not
// decode (after an earlier bad one: the earlier is named).
func TestSinceChainNamesTheFirstBadRecordOfTheRange(t *testing.T) {
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	flipSig := func(data []byte) []byte {
		e, err := events.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		sig := []byte(e.Sig)
		sig[3] ^= 'A' ^ 'B'
		e.Sig = string(sig)
		out, err := events.Marshal(&e)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	const n, kept = 300, 40
	for _, tt := range []struct {
		name   string
		damage map[int]func([]byte) []byte
		want   uint64 // 0: intact
	}{
		{"intact", nil, 0},
		{"a signature that does not verify", map[int]func([]byte) []byte{120: flipSig}, 120},
		{"records under the kept checkpoint are not the range's", map[int]func([]byte) []byte{kept: flipSig}, 0},
		{"signed by a key the chain never reached", map[int]func([]byte) []byte{
			77: func([]byte) []byte { return signedRecord(t, other, 77) }}, 77},
		{"the first of two bad records", map[int]func([]byte) []byte{
			250: flipSig, 41: flipSig}, 41},
		{"a bad signature before a record that does not decode", map[int]func([]byte) []byte{
			90: flipSig, 150: func([]byte) []byte { return []byte(`{"fmt":`) }}, 90},
		{"a record that does not decode", map[int]func([]byte) []byte{
			150: func([]byte) []byte { return []byte(`{"fmt":`) }}, 150},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b, s := sinceRange(t, key, n, kept)
			for seq, f := range tt.damage {
				b.Events[seq-1].Data = f(b.Events[seq-1].Data)
			}
			f := s.add(b)
			switch {
			case tt.want == 0 && f != nil:
				t.Fatalf("finding %+v on an intact range", f)
			case tt.want != 0 && (f == nil || f.Seq != tt.want || f.Kind != integrity.KindForgery):
				t.Fatalf("finding %+v, want forgery at sequence %d", f, tt.want)
			}
		})
	}
}

// The since-chain's check of a range of 20,000 records (one bundle part),
// with its signatures checked on all CPUs:
//
//	go test -run '^$' -bench '^BenchmarkSinceChain$' ./internal/cli/
func BenchmarkSinceChain(b *testing.B) {
	key, err := ledgerkey.Generate(ledgerkey.DefaultName)
	if err != nil {
		b.Fatal(err)
	}
	const n = 20_000
	part, _ := sinceRange(b, key, n, 0)
	since, err := integrity.SignCheckpoint(integrity.Checkpoint{Origin: key.Name(), Size: 0}, key.Signer())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s, err := newSinceChain(since, note.VerifierList(key.Verifier()), key.VerifierKey(), 1)
		if err != nil {
			b.Fatal(err)
		}
		if f := s.add(part); f != nil {
			b.Fatal(f)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
