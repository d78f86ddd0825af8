package httpapi

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A token list answer ({"tokens":[…]}, Unleash's apiTokensSchema) is
// written as it is encoded, a page of tokens at a time: a request holds
// one page of tokens and one write buffer, whatever the ledger's size,
// instead of every token, every apiToken and the whole answer (2.9 MB at
// 10,000 tokens, whose encoding/json buffer stayed pooled afterwards).
const (
	// listPage is how many tokens a list reads from the token set at a
	// time (under its read lock).
	listPage = 128
	// listFlush is how many encoded bytes are gathered before they are
	// written to the connection.
	listFlush = 16 << 10
)

// listBufs are the write buffers of list answers: listFlush plus room
// for the token that crosses it, never grown beyond a few of those.
var listBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2*listFlush); return &b }}

// tokenListWriter writes a token list answer as it goes.
type tokenListWriter struct {
	w     http.ResponseWriter
	buf   *[]byte
	n     int // tokens written
	err   error
	empty bool // nothing was written yet: the status line is pending
}

func newTokenListWriter(w http.ResponseWriter) *tokenListWriter {
	lw := &tokenListWriter{w: w, buf: listBufs.Get().(*[]byte), empty: true}
	*lw.buf = append((*lw.buf)[:0], `{"tokens":[`...)
	return lw
}

// add appends t as an apiToken.
func (lw *tokenListWriter) add(t tokenset.Token) {
	if lw.err != nil {
		return
	}
	b := *lw.buf
	if lw.n > 0 {
		b = append(b, ',')
	}
	lw.n++
	*lw.buf = appendAPIToken(b, t)
	if len(*lw.buf) >= listFlush {
		lw.flush()
	}
}

func (lw *tokenListWriter) flush() {
	if lw.empty {
		lw.w.Header().Set("Content-Type", "application/json; charset=utf-8")
		lw.w.WriteHeader(http.StatusOK)
		lw.empty = false
	}
	_, lw.err = lw.w.Write(*lw.buf)
	*lw.buf = (*lw.buf)[:0]
}

// finish closes the answer and returns the buffer to its pool (one that
// grew past a few flushes, for a huge token, is dropped).
func (lw *tokenListWriter) finish() {
	if lw.err == nil {
		*lw.buf = append(*lw.buf, "]}\n"...)
		lw.flush()
	}
	if cap(*lw.buf) <= 4*listFlush {
		listBufs.Put(lw.buf)
	}
	lw.buf = nil
}

// writeAllAPITokens answers every API token p may read, a page at a time.
func (s *Server) writeAllAPITokens(w http.ResponseWriter, p *authz.Principal) {
	lw := newTokenListWriter(w)
	page := make([]tokenset.Token, 0, listPage)
	for from := 0; lw.err == nil; {
		page, from = s.tokens.AppendRange(page[:0], from, listPage)
		if len(page) == 0 {
			break
		}
		for _, t := range page {
			if isAPIToken(t) && authz.CanOnToken(p, authz.Read, t.Type) == nil {
				lw.add(t)
			}
		}
	}
	lw.finish()
}

// writeAPITokens answers the tokens of ts that keep says to list.
func writeAPITokens(w http.ResponseWriter, ts []tokenset.Token, keep func(tokenset.Token) bool) {
	lw := newTokenListWriter(w)
	for _, t := range ts {
		if keep(t) {
			lw.add(t)
		}
	}
	lw.finish()
}

// appendAPIToken appends t as encoding/json encodes toAPIToken(t) with
// HTML escaping off (TestTokenListIsWhatEncodingJSONWrites keeps them
// equal), without building it.
func appendAPIToken(b []byte, t tokenset.Token) []byte {
	b = append(b, `{"secret":`...)
	b = appendJSONString(b, t.ID)
	b = append(b, `,"tokenName":`...)
	b = appendJSONString(b, t.Name)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, t.Type)
	b = append(b, `,"environment":`...)
	b = appendJSONString(b, t.Environment)
	projects := apiProjects(t)
	b = append(b, `,"project":`...)
	b = appendJSONString(b, strings.Join(projects, ","))
	b = append(b, `,"projects":[`...)
	for i, p := range projects {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, p)
	}
	b = append(b, `],"expiresAt":`...)
	if t.ExpiresAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendJSONTime(b, t.ExpiresAt)
	}
	b = append(b, `,"createdAt":`...)
	b = appendJSONTime(b, t.CreatedAt)
	return append(b, `,"seenAt":null,"alias":null,"secure":true}`...)
}

// apiProjects is the "projects" of t's apiToken: ["*"] for all projects,
// never null.
func apiProjects(t tokenset.Token) []string {
	switch {
	case t.AllProjects:
		return allProjectsScope
	case t.Projects == nil:
		return []string{}
	}
	return t.Projects
}

// appendJSONTime appends t in UTC as time.Time's MarshalJSON does (RFC
// 3339 with the nanoseconds it has).
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}
