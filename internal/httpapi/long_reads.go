package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/internal/authz"
)

// longReadsPerPrincipal is how many reads of one kind (longRead) one
// principal runs at once. An audit export holds, for as long as its reader
// keeps reading (paced writes: days at a million events for a slow one),
// an ordered consumer on LEDGER, its pull buffer (up to 2 MiB), a write
// buffer and a dozen goroutines; a whole-ledger answer (the ledger's token
// list, a past state: ~460 bytes a token) is held whole until its reader
// took it, up to the write timeout, after its read slot was released. An
// honest auditor runs one or two at once (atk-r14).
const longReadsPerPrincipal = 2

// Kinds of long reads, counted apart: an auditor's exports do not keep
// its past states out.
const (
	longReadExport = "export"
	longReadAnswer = "whole-ledger answer"
)

// longReads counts the long reads each principal is running, by kind.
type longReads struct {
	mu   sync.Mutex
	held map[string]int
}

// longRead takes one of p's slots for a read of kind, or answers 429 (with
// Retry-After) when p runs longReadsPerPrincipal of them already: nothing
// is read or recorded. release gives the slot back (once).
func (s *Server) longRead(w http.ResponseWriter, p *authz.Principal, kind string) (release func(), err error) {
	key := kind + "\x00" + p.Kind + "\x00" + p.ID
	e := &s.longReads
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[key] >= longReadsPerPrincipal {
		return nil, tooManyRequests(w, time.Second,
			"Too many exports or whole-ledger reads by this principal are running; retry after the time in Retry-After")
	}
	if e.held == nil {
		e.held = map[string]int{}
	}
	e.held[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			if e.held[key]--; e.held[key] <= 0 {
				delete(e.held, key)
			}
		})
	}, nil
}
