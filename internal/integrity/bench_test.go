package integrity_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// benchEvents is the synthetic stream's length: TOKENLEDGER_BENCH_EVENTS,
// 100,000 by default (the README's figure uses 1,000,000).
func benchEvents(b *testing.B) int {
	n := 100_000
	if s := os.Getenv("TOKENLEDGER_BENCH_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("TOKENLEDGER_BENCH_EVENTS=%q", s)
		}
		n = v
	}
	return n
}

var (
	benchOnce sync.Once
	benchLog  *testLog
	benchKey  *ledgerkey.Key
)

// benchStream is a stream as the ledger writes it: per 10 events 6 token
// creations (about 900 bytes each, with the request context) and 4 later
// events of those tokens, every event signed (format 2) and a signed
// checkpoint every 1,000 records, all with one ledger key.
func benchStream(b *testing.B) *testLog {
	benchOnce.Do(func() {
		lk, err := ledgerkey.Generate("ledger.example")
		if err != nil {
			b.Fatal(err)
		}
		keys, err := integrity.Verifiers(lk.VerifierKey())
		if err != nil {
			b.Fatal(err)
		}
		benchKey = lk
		k := key{signer: lk.Signer(), vkey: lk.VerifierKey(), keys: keys}
		l := newTestLog(b, k)
		l.sign = lk
		n := benchEvents(b)
		via := events.Via{CredentialID: "0193a5b2-0000-7000-8000-0000000000aa", CredentialType: "admin",
			RemoteAddr: "127.0.0.1:50000", UserAgent: "tokenledger-bench/1 (linux; amd64)", RequestID: "req-0123456789abcdef"}
		created := 0
		for len(l.records) < n {
			if len(l.records)%1000 == 999 {
				l.checkpoint(k)
				continue
			}
			var p events.Payload
			agg := fmt.Sprintf("0193a5b2-0000-7000-8000-%012d", created)
			switch i := len(l.records) % 10; {
			case i < 6 || created < 10:
				exp := l.t0.Add(90 * 24 * time.Hour)
				p = events.TokenCreated{TokenType: events.TokenBackend, Name: "checkout-" + strconv.Itoa(created), Environment: "production",
					Projects: []string{"checkout", "default"}, ExpiresAt: &exp, Path: events.PathAdminAPI,
					Verifier: fmt.Sprintf("%064x", created), Hint: "[]:production.…9f3a"}
				created++
			case i < 8:
				agg = fmt.Sprintf("0193a5b2-0000-7000-8000-%012d", created-10)
				p = events.TokenExpiryChanged{New: &l.t0}
			default:
				agg = fmt.Sprintf("0193a5b2-0000-7000-8000-%012d", created-5)
				p = events.TokenRevoked{Reason: events.ReasonCompromised}
			}
			seq := len(l.records) + 1
			env, err := events.New(fmt.Sprintf("01JD%022d", seq), agg, p, l.t0.Add(time.Duration(seq)*time.Millisecond))
			if err != nil {
				b.Fatal(err)
			}
			env.Actor = events.Actor{Kind: events.ActorAdminToken, ID: "0193a5b2-0000-7000-8000-0000000000aa", Name: "admin"}
			env.Via, env.CommandID = via, fmt.Sprintf("cmd-%d", seq)
			env.Prev = l.last[agg]
			if err := env.Seal(); err != nil {
				b.Fatal(err)
			}
			if err := env.Sign(l.sign); err != nil {
				b.Fatal(err)
			}
			l.last[agg] = env.Hash
			data, err := events.Marshal(&env)
			if err != nil {
				b.Fatal(err)
			}
			l.add(data)
		}
		benchLog = l
	})
	return benchLog
}

// benchChain checks per-event signatures as `tokenledger verify` does:
// with the ledger's key chain, following key.rotated events a checkpoint
// covers.
type benchChain struct{ c *ledgerkey.Chain }

func (k benchChain) Check(env *events.Envelope) error { return k.c.Check(*env) }

func (k benchChain) Precheck(envs []events.Envelope) { k.c.Precheck(envs) }

func (k benchChain) Covered(env *events.Envelope) error {
	if err := k.c.Learn([]events.Envelope{*env}); err != nil {
		return err
	}
	k.c.TrustThrough(env.Sequence)
	return k.c.Check(*env)
}

// CurrentKey and KnownKey make benchChain an integrity.KeyTracker, as the
// CLI's chain is: each checkpoint is checked against the key current at
// its size.
func (k benchChain) CurrentKey() string { return k.c.CurrentID() }

func (k benchChain) KnownKey(id string) (ed25519.PublicKey, bool) { return k.c.KnownKey(id) }

var _ integrity.KeyTracker = benchChain{}

// BenchmarkVerify verifies the whole synthetic stream as `tokenledger
// verify` does: continuity, each event's decoding and hash, each
// aggregate's chain, the tree root against every signed checkpoint, the
// signatures of the events after the last one. Each iteration first runs
// the floor over the same bytes (one bare SHA-256 of each record), so the
// two rates and their ratio come from the same moment of the machine; the
// CPU time per event of each (all threads) is reported too:
//
//	TOKENLEDGER_BENCH_EVENTS=1000000 go test -run '^$' -bench '^BenchmarkVerify$' -benchtime 3x -timeout 30m ./internal/integrity/
func BenchmarkVerify(b *testing.B) {
	l := benchStream(b)
	var bytes int64
	for _, r := range l.records {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes)
	var took, floor, cpu, floorCPU time.Duration
	var sink byte
	for b.Loop() {
		b.StopTimer()
		start, startCPU := time.Now(), cpuTime()
		for _, r := range l.records {
			h := sha256.Sum256(r)
			sink ^= h[0]
		}
		floor += time.Since(start)
		floorCPU += cpuTime() - startCPU
		chain, err := ledgerkey.NewChain(benchKey.VerifierKey())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start, startCPU = time.Now(), cpuTime()
		v := integrity.NewVerifier(integrity.Config{Keys: l.key.keys, Records: len(l.records), Signatures: benchChain{chain}})
		for j := 0; j < len(l.records); j += 4096 {
			if err := v.AddBatch(uint64(j+1), l.records[j:min(j+4096, len(l.records))]); err != nil {
				b.Fatal(err)
			}
		}
		rep := v.Finish(uint64(len(l.records)))
		took += time.Since(start)
		cpu += cpuTime() - startCPU
		if rep.Finding != nil || rep.Checkpoints == 0 {
			b.Fatalf("%+v", rep)
		}
	}
	n := float64(len(l.records) * b.N)
	b.ReportMetric(n/took.Seconds(), "events/s")
	b.ReportMetric(n/floor.Seconds(), "floor_sha256_events/s")
	b.ReportMetric(floor.Seconds()/took.Seconds(), "ratio_to_floor")
	b.ReportMetric(float64(cpu.Nanoseconds())/n/1e3, "cpu_us/event")
	b.ReportMetric(float64(floorCPU.Nanoseconds())/n/1e3, "floor_cpu_us/event")
	_ = sink
}

// BenchmarkVerifyFloorSHA256 is the floor: one bare SHA-256 over each
// record's bytes.
func BenchmarkVerifyFloorSHA256(b *testing.B) {
	l := benchStream(b)
	var bytes int64
	for _, r := range l.records {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes)
	b.ResetTimer()
	start := time.Now()
	var sink byte
	for i := 0; i < b.N; i++ {
		for _, r := range l.records {
			h := sha256.Sum256(r)
			sink ^= h[0]
		}
	}
	b.ReportMetric(float64(len(l.records)*b.N)/time.Since(start).Seconds(), "events/s")
	_ = sink
}

// BenchmarkTreeAppend is the tree alone: one leaf hash and the stored
// interior hashes per record.
func BenchmarkTreeAppend(b *testing.B) {
	l := benchStream(b)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t := integrity.NewTree()
		t.Grow(len(l.records))
		for _, r := range l.records {
			if err := t.Append(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(l.records)*b.N)/time.Since(start).Seconds(), "events/s")
}
