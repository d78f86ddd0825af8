package httpapi

import (
	"net/http"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/internal/authz"
)

// exportsPerPrincipal is how many audit exports one principal streams at
// once. An export holds, for as long as its reader keeps reading (paced
// writes: days at a million events for a slow one), an ordered consumer
// on LEDGER, its pull buffer (up to 2 MiB), a write buffer and a dozen
// goroutines; an honest auditor runs one or two (atk-r14).
const exportsPerPrincipal = 2

// exportSlots counts the exports each principal is streaming.
type exportSlots struct {
	mu   sync.Mutex
	held map[string]int
}

// exportSlot takes one of p's export slots, or answers 429 (with
// Retry-After) when p streams exportsPerPrincipal exports already: nothing
// is read or recorded.
func (s *Server) exportSlot(w http.ResponseWriter, p *authz.Principal) (release func(), err error) {
	key := p.Kind + "\x00" + p.ID
	e := &s.exports
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held[key] >= exportsPerPrincipal {
		return nil, tooManyRequests(w, time.Second,
			"Too many audit exports by this principal are running; retry after the time in Retry-After")
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
