package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/internal/integrity"
)

// Integrity is what the integrity routes read: the Merkle tree over the
// stream, its latest signed checkpoint and the ledger's verifier key.
type Integrity interface {
	// Latest is the newest signed checkpoint (ok false before the first).
	Latest() (signed []byte, size int64, root tlog.Hash, ok bool)
	// VerifierKey is the ledger's public key, as auditors keep it.
	VerifierKey() string
	// Tree is the Merkle tree over the stream.
	Tree() *integrity.Tree
	// Bundle is the auditor bundle of records from..to (to 0: up to the
	// latest checkpoint) under the latest checkpoint, with a consistency
	// proof from size since when since > 0.
	Bundle(ctx context.Context, from, to uint64, since int64) (*integrity.Bundle, error)
	// Reach waits until the tree holds size records when the stream
	// holds them (a replica still applying another replica's records),
	// and a signed checkpoint (Latest) covers them where the ledger signs
	// its tree as it grows: false when the stream holds fewer, or ctx
	// ends first.
	Reach(ctx context.Context, size int64) bool
}

// reached is the tree once it holds size records, when the stream holds
// them: a replica still applying records another replica's signed tree
// head (an auditor's kept checkpoint) counts answers for them once it
// applied them, within WriteWait, rather than as if its stream ended
// before them (verify would name tail-truncation). behind reports that
// the wait ended first (the stream holds them, the replica is still
// applying them: see stillBehind); a stream that holds fewer is not
// waited for.
func (s *Server) reached(ctx context.Context, size uint64) (t *integrity.Tree, behind bool) {
	t = s.integrity.Tree()
	if size <= uint64(t.Size()) || size > 1<<62 {
		return t, false
	}
	behind = s.await(ctx, size)
	return s.integrity.Tree(), behind
}

// await waits, within WriteWait, until the ledger applied and signed size
// records when its stream holds them (Integrity.Reach), and reports
// whether the wait ended first while the request was still live: the
// replica is behind records its stream holds (see stillBehind). A stream
// that holds fewer is not waited for (false).
func (s *Server) await(ctx context.Context, size uint64) (behind bool) {
	wctx, cancel := context.WithTimeout(ctx, s.cfg.WriteWait)
	defer cancel()
	return !s.integrity.Reach(wctx, int64(size)) && wctx.Err() != nil && ctx.Err() == nil
}

// stillBehind is the answer of a replica whose stream holds the records
// asked for but which has not applied (and signed) them within the wait:
// 503 with Retry-After, for waiting ends it, rather than the answer of a
// stream that holds fewer (a 422, or a shorter checkpoint), which an
// auditor's verify names tail-truncation (atk-r29).
func stillBehind(w http.ResponseWriter, size uint64) error {
	w.Header().Set("Retry-After", "1")
	return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
		fmt.Sprintf("This replica is still applying the ledger's records up to %d (its stream holds them); retry shortly", size))
}

// MaxBundleEvents is the most events one bundle answer holds.
const MaxBundleEvents = integrity.MaxBundleEvents

// checkpointJSON is GET /api/ledger/checkpoint's answer.
type checkpointJSON struct {
	Size        int64  `json:"size"`
	Root        string `json:"root"`
	Checkpoint  string `json:"checkpoint"` // the signed note
	VerifierKey string `json:"verifierKey"`
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func hashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = b64(h)
	}
	return out
}

func (s *Server) integrityOn() error {
	if s.integrity == nil {
		return notFound("This ledger keeps no Merkle tree")
	}
	return nil
}

// getCheckpoint: GET /api/ledger/checkpoint?min_size=N
//
// With min_size (the size of a checkpoint an auditor kept, perhaps from
// another replica), a replica whose newest checkpoint is shorter waits,
// within WriteWait, until it applied and signed that many records when
// its stream holds them: when the wait ends first, 503 with Retry-After
// (stillBehind); else it answers with what it has (a stream that holds
// fewer: the auditor's verify names tail-truncation).
func (s *Server) getCheckpoint(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.integrityOn(); err != nil {
		return err
	}
	if err := onlyOnce(r.URL.Query(), "min_size"); err != nil {
		return err
	}
	minSize, err := parseUint("min_size", r.URL.Query().Get("min_size"))
	if err != nil {
		return err
	}
	short := func() bool {
		_, latest, _, ok := s.integrity.Latest()
		return !ok || uint64(latest) < minSize
	}
	if minSize > 0 && minSize <= 1<<62 && short() && s.await(r.Context(), minSize) && short() {
		return stillBehind(w, minSize)
	}
	signed, size, root, ok := s.integrity.Latest()
	if !ok {
		return notFound("No checkpoint yet: the first is appended once the ledger holds events")
	}
	writeJSON(w, http.StatusOK, checkpointJSON{Size: size, Root: b64(root), Checkpoint: string(signed), VerifierKey: s.integrity.VerifierKey()})
	return nil
}

// inclusionJSON is an inclusion proof's answer.
type inclusionJSON struct {
	Seq      uint64   `json:"seq"`
	Size     int64    `json:"size"`
	Root     string   `json:"root"`
	LeafHash string   `json:"leafHash"`
	Proof    []string `json:"proof"`
	// Checkpoint is the signed note of the tree of Size records, when
	// Size is the latest checkpoint's.
	Checkpoint string `json:"checkpoint,omitempty"`
}

// eventProof: GET /api/ledger/events/{seq}/proof?size=N
func (s *Server) eventProof(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.integrityOn(); err != nil {
		return err
	}
	seq, err := parseUint("seq", r.PathValue("seq"))
	if err != nil {
		return err
	}
	if err := onlyOnce(r.URL.Query(), "size"); err != nil {
		return err
	}
	size, err := parseUint("size", r.URL.Query().Get("size"))
	if err != nil {
		return err
	}
	signed, latest, _, ok := s.integrity.Latest()
	if size == 0 {
		if !ok {
			return notFound("No checkpoint yet: give size")
		}
		size = uint64(latest)
	}
	t, behind := s.reached(r.Context(), size)
	if behind && seq >= 1 && seq <= size && size > uint64(t.Size()) {
		return stillBehind(w, size)
	}
	if seq < 1 || seq > size || size > uint64(t.Size()) {
		return newError(http.StatusUnprocessableEntity, "ValidationError", "seq must be between 1 and size, and size at most the tree's size")
	}
	proof, err := t.InclusionProof(seq, int64(size))
	if err != nil {
		return err
	}
	root, err := t.Root(int64(size))
	if err != nil {
		return err
	}
	leaf, err := t.LeafHash(seq)
	if err != nil {
		return err
	}
	out := inclusionJSON{Seq: seq, Size: int64(size), Root: b64(root), LeafHash: b64(leaf), Proof: hashes(proof)}
	if ok && int64(size) == latest {
		out.Checkpoint = string(signed)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// consistencyJSON is a consistency proof's answer.
type consistencyJSON struct {
	From     int64    `json:"from"`
	To       int64    `json:"to"`
	FromRoot string   `json:"fromRoot"`
	ToRoot   string   `json:"toRoot"`
	Proof    []string `json:"proof"`
}

// consistencyProof: GET /api/ledger/proof/consistency?from=N&to=M
func (s *Server) consistencyProof(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.integrityOn(); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyOnce(q, "from", "to"); err != nil {
		return err
	}
	from, err := parseUint("from", q.Get("from"))
	if err != nil {
		return err
	}
	to, err := parseUint("to", q.Get("to"))
	if err != nil {
		return err
	}
	if to == 0 {
		_, latest, _, ok := s.integrity.Latest()
		if !ok {
			return notFound("No checkpoint yet: give to")
		}
		to = uint64(latest)
	}
	t, behind := s.reached(r.Context(), to)
	if behind && from >= 1 && from <= to && to > uint64(t.Size()) {
		return stillBehind(w, to)
	}
	if from < 1 || from > to || to > uint64(t.Size()) {
		return newError(http.StatusUnprocessableEntity, "ValidationError", "from must be between 1 and to, and to at most the tree's size")
	}
	proof, err := t.ConsistencyProof(int64(from), int64(to))
	if err != nil {
		return err
	}
	fromRoot, _ := t.Root(int64(from))
	toRoot, _ := t.Root(int64(to))
	writeJSON(w, http.StatusOK, consistencyJSON{From: int64(from), To: int64(to), FromRoot: b64(fromRoot), ToRoot: b64(toRoot), Proof: hashes(proof)})
	return nil
}

// getBundle: GET /api/ledger/bundle?from_seq=&to_seq=&since=
func (s *Server) getBundle(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := s.integrityOn(); err != nil {
		return err
	}
	q := r.URL.Query()
	if err := onlyOnce(q, "from_seq", "to_seq", "since"); err != nil {
		return err
	}
	from, err := parseUint("from_seq", q.Get("from_seq"))
	if err != nil {
		return err
	}
	to, err := parseUint("to_seq", q.Get("to_seq"))
	if err != nil {
		return err
	}
	since, err := parseUint("since", q.Get("since"))
	if err != nil {
		return err
	}
	if from == 0 {
		from = 1
	}
	_, latest, _, ok := s.integrity.Latest()
	if !ok {
		return notFound("No checkpoint yet: a bundle needs one")
	}
	end := to
	if end == 0 {
		end = uint64(latest)
	}
	if from > end || end > uint64(latest) || since > uint64(latest) {
		return newError(http.StatusUnprocessableEntity, "ValidationError", "from_seq ≤ to_seq ≤ the latest checkpoint's size (GET /api/ledger/checkpoint), and since at most that size")
	}
	if end-from+1 > MaxBundleEvents {
		return newError(http.StatusUnprocessableEntity, "ValidationError", "at most 20000 events in one bundle: ask for several ranges (each verifies alone)")
	}
	// A bundle hands out events: it is an audit-trail read, limited and
	// recorded before any event is read (no record, no bundle). The slot
	// is held while the bundle is built, not while a client reads it; the
	// principal's long read is held until the bundle is written.
	done, err := s.longRead(w, p, longReadAnswer)
	if err != nil {
		return err
	}
	defer done()
	release, err := s.heavyRead()
	if err != nil {
		return err
	}
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditAllowed, Format: "bundle"}); err != nil {
		release()
		return err
	}
	// The whole log (no to_seq) is the one the newest checkpoint signs
	// when the bundle is built: the ledger's signed tree head moves with
	// every applied event, so one read here for end would leave a bundle
	// one record short of its own checkpoint (not complete).
	b, err := s.integrity.Bundle(r.Context(), from, to, int64(since))
	release()
	if errors.Is(err, integrity.ErrSize) {
		return newError(http.StatusConflict, "ConflictError", "The latest checkpoint changed; ask again")
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, b)
	return nil
}
