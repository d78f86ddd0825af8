package httpapi

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenledger/tokenledger/internal/authz"
)

// digestMinInterval bounds how often the state digest is computed: it
// hashes the whole token set and directory, and /metrics is anonymous.
// Between two computations the last one is served, with its sequence
// (see also digestCostFactor).
const digestMinInterval = time.Second

// stateDigest is the replica's projected state at one sequence: every
// replica that applied the stream up to Seq has the same digests.
type stateDigest struct {
	// Seq is the sequence both projections had applied when hashed.
	Seq uint64 `json:"lastApplied"`
	// Digest covers both below (SHA-256 of their concatenation).
	Digest    string `json:"digest"`
	TokenSet  string `json:"tokenSetDigest"`
	Directory string `json:"directoryDigest"`
	at        time.Time
}

// digestCostFactor bounds the share of time anonymous scrapes can spend
// on the digest: the next computation starts no sooner than this many
// times the last one's duration (and digestMinInterval) after it.
const digestCostFactor = 10

// digests caches the last stateDigest, and when it may be computed again.
type digests struct {
	mu   sync.Mutex
	last *stateDigest
	// tried is when the last computation started, every the interval
	// before the next (digestMinInterval, or more for a costly one).
	tried time.Time
	every time.Duration
}

// stateDigest returns the digest of the token set and the directory at
// one sequence: the cached one when nothing was applied since or when it
// is younger than digestMinInterval, else a new one. It returns nil when
// no consistent pair could be read (writes land between the reads) and
// nothing is cached yet.
func (s *Server) stateDigest() *stateDigest {
	s.digests.mu.Lock()
	defer s.digests.mu.Unlock()
	last := s.digests.last
	if last != nil && last.Seq == s.tokens.LastApplied() || time.Since(s.digests.tried) < s.digests.every {
		return last
	}
	start := time.Now()
	defer func() {
		s.digests.tried, s.digests.every = start, max(digestMinInterval, digestCostFactor*time.Since(start))
	}()
	for range 5 { // bounded: under a steady write load, serve the last one
		seq := s.tokens.LastApplied()
		if s.dir.LastApplied() != seq {
			time.Sleep(time.Millisecond)
			continue
		}
		// The token set is hashed a chunk at a time, so applies go on
		// meanwhile; a digest across one is refused.
		tokens, tseq, ok := s.tokens.DigestYielding()
		if !ok || tseq != seq {
			continue
		}
		dir := s.dir.Digest()
		// Sequences only grow: equal before and after, both digests
		// describe the state at seq.
		if s.tokens.LastApplied() != seq || s.dir.LastApplied() != seq {
			continue
		}
		sum := sha256.Sum256([]byte(tokens + dir))
		s.digests.last = &stateDigest{Seq: seq, Digest: hex.EncodeToString(sum[:]), TokenSet: tokens, Directory: dir, at: time.Now()}
		return s.digests.last
	}
	return last
}

// replicaHealth is /health for an admin: the replica's applied sequence,
// the digests of its state there (equal on every replica at the same
// sequence), and how stale its reads may be.
func (s *Server) replicaHealth(w http.ResponseWriter, _ *http.Request, _ *authz.Principal) error {
	body := map[string]any{"health": "GOOD", "lastApplied": s.runner.LastApplied()}
	if d := s.stateDigest(); d != nil {
		body["state"] = d
	}
	if s.staleness != nil {
		body["stalenessSeconds"] = s.staleness().Seconds()
		setStaleness(w, s.staleness)
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// StalenessHeader tells, on every API answer of a replica on an external
// NATS, how many whole seconds old the replica's view of the ledger may
// be: the time since it last knew it had applied every stored event.
const StalenessHeader = "X-Ledger-Staleness"

// setStaleness sets StalenessHeader when staleness is known.
func setStaleness(w http.ResponseWriter, staleness func() time.Duration) {
	if staleness != nil {
		w.Header().Set(StalenessHeader, strconv.Itoa(int(staleness().Seconds())))
	}
}

var (
	descDigestSeq = prometheus.NewDesc("tokenledger_projections_digest_sequence",
		"Sequence at which tokenledger_projections_digest was computed.", nil, nil)
	descDigest = prometheus.NewDesc("tokenledger_projections_digest",
		"First 48 bits of the state digest (token set and directory) at tokenledger_projections_digest_sequence, as a number: replicas at the same sequence show the same value.", nil, nil)
)

// digestCollector exports the state digest and its sequence from one
// snapshot.
type digestCollector struct{ s *Server }

func (c *digestCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descDigestSeq
	ch <- descDigest
}

func (c *digestCollector) Collect(ch chan<- prometheus.Metric) {
	d := c.s.stateDigest()
	if d == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(descDigestSeq, prometheus.GaugeValue, float64(d.Seq))
	ch <- prometheus.MustNewConstMetric(descDigest, prometheus.GaugeValue, digestNumber(d.Digest))
}

// digestNumber is the first 48 bits of a hex digest: exact in a float64.
func digestNumber(hexDigest string) float64 {
	b, err := hex.DecodeString(hexDigest)
	if err != nil || len(b) < 6 {
		return 0
	}
	var buf [8]byte
	copy(buf[2:], b[:6])
	return float64(binary.BigEndian.Uint64(buf[:]))
}
