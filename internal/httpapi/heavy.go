package httpapi

import "net/http"

// heavyReadSlots is how many whole-ledger reads (the token list, a past
// state, a bundle) run at once. Each costs memory and CPU in proportion to
// the ledger (a past state rebuilds the token set: hundreds of MB at a
// million tokens) and spends at most one token of its caller's budget, so
// a burst of them, even from callers within their budgets, could exhaust
// the process; the rest wait for a retry.
const heavyReadSlots = 2

// heavyRead takes a slot for a whole-ledger read, or answers 503 (with
// Retry-After) when every slot is taken: nothing is read or recorded.
func (s *Server) heavyRead() (release func(), err error) {
	select {
	case s.heavy <- struct{}{}:
		return func() { <-s.heavy }, nil
	default:
		return nil, newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"Too many whole-ledger reads (token lists, past states, bundles) are running; retry after the time in Retry-After")
	}
}
