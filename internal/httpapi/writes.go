package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"
	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/authz"
)

// TreeHeadHeader is the response header of a mutation answered before the
// signed tree head counted its event (TreeHeadLagging): the head's writing
// lagged past the read wait or failed, or the projections lagged. The event
// is stored; until a head counts it, it is protected by its signature and
// its chain only.
const TreeHeadHeader = "Ledger-Tree-Head"

// TreeHeadLagging is TreeHeadHeader's value.
const TreeHeadLagging = "lagging"

// afterWrite makes a mutation's answer read-your-writes: it waits until the
// projections applied seq and the signed tree head counts it, and tells the
// client the sequence (and, with TreeHeadHeader, when it did not wait for
// the head). It reports whether the projections applied seq.
func (s *Server) afterWrite(w http.ResponseWriter, r *http.Request, res commands.Result) bool {
	w.Header().Set("X-Ledger-Sequence", itoa(res.Seq))
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteWait)
	defer cancel()
	if err := s.runner.WaitFor(ctx, res.Seq); err != nil {
		// The event is stored; only the read model lags. Say so rather than
		// pretend the write failed.
		s.log.Warn("projection lagging behind write", "seq", res.Seq, "err", err)
		if s.treeHead != nil {
			w.Header().Set(TreeHeadHeader, TreeHeadLagging)
		}
		return false
	}
	if s.treeHead != nil {
		if err := s.treeHead(ctx, res.Seq); err != nil {
			// Stored and applied; only its signed tree head is missing.
			s.log.Warn("signed tree head lagging behind write", "seq", res.Seq, "err", err)
			w.Header().Set(TreeHeadHeader, TreeHeadLagging)
		}
	}
	return true
}

// written finishes a mutation that answers 200 with an empty body.
func (s *Server) written(w http.ResponseWriter, r *http.Request, res commands.Result, err error) error {
	if errors.Is(err, commands.ErrUnchanged) { // the wish holds; nothing to record
		if res.Seq > 0 { // the state it holds (or its key's claim)
			w.Header().Set("X-Ledger-Sequence", itoa(res.Seq))
		}
		w.WriteHeader(http.StatusOK)
		return nil
	}
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	w.WriteHeader(http.StatusOK)
	return nil
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// meta builds the command metadata of a request. With an Idempotency-Key
// the command claims the key (namespaced by caller, method and path, so two
// callers' keys never collide) and its id is the key plus a hash of the
// request body: a retry of the same request is recognised and replayed, the
// same key with another body is refused (commands.ErrKeyReused → 422).
func (s *Server) meta(r *http.Request, p *authz.Principal) commands.Meta {
	m := commands.Meta{Actor: p.Actor(), Via: p.Via, Reason: reasonOf(r)}
	if key := r.Header.Get("Idempotency-Key"); key != "" {
		h := sha256.Sum256([]byte(p.Kind + "\x00" + p.ID + "\x00" + r.Method + "\x00" + r.URL.Path + "\x00" + key))
		m.Key = hex.EncodeToString(h[:16])
		body, _ := r.Context().Value(bodyHashKey{}).(string)
		m.CommandID = "idem-" + m.Key + "-" + body
	}
	return m
}

var idempotentNS = uuid.MustParse("6f1d1e0e-8c3b-4b7a-9a55-7c1d0b5e2a11")

// createMeta is the metadata of a create and the new aggregate's id: with
// an Idempotency-Key the id comes from the command id (key and body), so a
// retry finds the first aggregate; without one it is "" (the handler
// generates a UUIDv7).
func (s *Server) createMeta(r *http.Request, p *authz.Principal) (commands.Meta, string) {
	m := s.meta(r, p)
	if m.Key == "" {
		return m, ""
	}
	return m, uuid.NewSHA1(idempotentNS, []byte(m.CommandID)).String()
}

type bodyHashKey struct{}

// hashBody reads a request's body (up to the size limit, plus one byte so
// decode still sees an oversized body) and records its hash for meta. Only
// requests with an Idempotency-Key pay for it.
func (s *Server) hashBody(r *http.Request) *http.Request {
	if r.Header.Get("Idempotency-Key") == "" || r.Body == nil {
		return r
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, s.cfg.MaxBodyBytes+1))
	sum := sha256.Sum256(b)
	r = r.WithContext(context.WithValue(r.Context(), bodyHashKey{}, hex.EncodeToString(sum[:8])))
	if err != nil {
		r.Body = io.NopCloser(errReader{err})
		return r
	}
	r.Body = readCloser{io.MultiReader(bytes.NewReader(b), r.Body), r.Body}
	return r
}

// retry reports whether a request may be the retry of a deletion (a
// DELETE under an Idempotency-Key) or is the retry of a change already
// stored (markReplay). Its lookups then let deleted records through, so
// the command can recognise and replay the first attempt (or answer not
// found for a new command).
func retry(r *http.Request) bool {
	return r.Method == http.MethodDelete && r.Header.Get("Idempotency-Key") != "" || replaying(r)
}

type replayKey struct{}

// markReplay marks a change under an Idempotency-Key whose key this very
// request already claimed (commands.Handler.Replays): its lookups then let
// records deleted since through (retry), and its role reference may name a
// role deleted since, so it answers its first result as the first attempt
// did. A failed check marks nothing: the command decides as usual.
func (s *Server) markReplay(r *http.Request, p *authz.Principal) *http.Request {
	if r.Method == http.MethodDelete || r.Header.Get("Idempotency-Key") == "" {
		return r
	}
	if ok, err := s.cmd.Replays(r.Context(), s.meta(r, p)); !ok || err != nil {
		return r
	}
	return r.WithContext(context.WithValue(r.Context(), replayKey{}, true))
}

// replaying reports whether markReplay marked r.
func replaying(r *http.Request) bool {
	return r != nil && r.Context().Value(replayKey{}) != nil
}
