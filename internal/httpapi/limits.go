package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// keyedLimiter is a token bucket per key (a client address or an actor)
// with bounded memory: at most max keys. A bucket that refilled to its
// burst is indistinguishable from a new one, so such buckets are dropped
// first; if the map is still full an arbitrary key is dropped (it restarts
// with a full bucket, which under a flood of distinct keys is all a
// per-key limit can offer).
type keyedLimiter struct {
	limit rate.Limit
	burst int
	max   int

	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// newKeyedLimiter returns nil (no limit) when perSecond is not positive.
func newKeyedLimiter(perSecond float64, burst, max int) *keyedLimiter {
	if perSecond <= 0 {
		return nil
	}
	if burst < 1 {
		burst = 1
	}
	if max < 1 {
		max = 10000
	}
	return &keyedLimiter{limit: rate.Limit(perSecond), burst: burst, max: max, buckets: map[string]*rate.Limiter{}}
}

func (l *keyedLimiter) bucket(key string, now time.Time) *rate.Limiter {
	b, ok := l.buckets[key]
	if ok {
		return b
	}
	if len(l.buckets) >= l.max {
		for k, o := range l.buckets {
			if o.TokensAt(now) >= float64(l.burst) {
				delete(l.buckets, k)
			}
		}
		for k := range l.buckets {
			if len(l.buckets) < l.max {
				break
			}
			delete(l.buckets, k)
		}
	}
	b = rate.NewLimiter(l.limit, l.burst)
	l.buckets[key] = b
	return b
}

// blocked reports how long key must wait before it may spend a token (0:
// it may now), without spending one.
func (l *keyedLimiter) blocked(key string, now time.Time) time.Duration {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		return 0
	}
	if tokens := b.TokensAt(now); tokens < 1 {
		return time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))
	}
	return 0
}

// charge spends n tokens of key's bucket (at most a burst's worth), going
// into debt if need be: a later request waits for the refill.
func (l *keyedLimiter) charge(key string, n int, now time.Time) {
	if l == nil || n <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bucket(key, now).ReserveN(now, min(n, l.burst))
}

// take spends one token of key's bucket if it has one, and otherwise
// reports how long to wait.
func (l *keyedLimiter) take(key string, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.AllowN(now, 1) {
		return 0, true
	}
	return time.Duration((1 - b.TokensAt(now)) / float64(l.limit) * float64(time.Second)), false
}

// takeN spends n tokens of key's bucket at once if it holds them, and
// otherwise reports how long to wait. A refusal is paid for too: the
// bucket is charged the n tokens (at most a burst) into debt, down to at
// most a burst below empty, so a refused batch of guesses is never a free
// test (whether it held a valid token would show in the answer) and a
// client that keeps sending them stays refused. While the bucket holds
// less than one token, even n = 0 is refused: otherwise a request naming
// one string would be answered 200 when it is a valid token and 429 when it
// is not, a free test. Concurrent callers are serialised, so they cannot
// overdraw the bucket.
func (l *keyedLimiter) takeN(key string, n int, now time.Time) (time.Duration, bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n <= 0 {
		if b, ok := l.buckets[key]; ok {
			if tokens := b.TokensAt(now); tokens < 1 {
				return time.Duration((float64(l.burst) - tokens) / float64(l.limit) * float64(time.Second)), false
			}
		}
		return 0, true
	}
	b := l.bucket(key, now)
	if n <= l.burst && b.AllowN(now, n) {
		return 0, true
	}

	n = min(n, l.burst)
	if charge := min(n, int(b.TokensAt(now)+float64(l.burst))); charge > 0 {
		b.ReserveN(now, charge)
	}
	// The wait for a full bucket, which fits any batch: a wait for n
	// tokens would tell how many of the batch's strings were unknown.
	return time.Duration((float64(l.burst) - b.TokensAt(now)) / float64(l.limit) * float64(time.Second)), false
}

// len is the number of keys held (for tests).
func (l *keyedLimiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// clientKey is the per-address limit's key: the client's address, with
// IPv6 addresses folded to their /64, the block one host usually holds.
// The client's address is the connection's, unless the connection comes
// from a trusted proxy: then it is the rightmost X-Forwarded-For address
// that is not itself a trusted proxy (entries to its left were written by
// the client and prove nothing). So clients behind the proxy each have
// their own budget, and a client sending the header directly gains none.
func (s *Server) clientKey(r *http.Request) string {
	// The commonest key, parsed once and without allocating: the host of
	// a direct IPv4 client, which netip parses only in its canonical
	// dotted form.
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		if a, err := netip.ParseAddr(r.RemoteAddr[:i]); err == nil && a.Is4() && !s.trustedProxy(a) {
			return r.RemoteAddr[:i]
		}
	}
	a, ok := s.clientAddr(r)
	if !ok {
		return r.RemoteAddr
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	// A trusted proxy's own address (no X-Forwarded-For hop beyond it)
	// without allocating, as above.
	if i := strings.LastIndexByte(r.RemoteAddr, ':'); i > 0 {
		if h, err := netip.ParseAddr(r.RemoteAddr[:i]); err == nil && h == a {
			return r.RemoteAddr[:i]
		}
	}
	return a.String()
}

func (s *Server) clientAddr(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	a = a.Unmap().WithZone("")
	if !s.trustedProxy(a) {
		return a, true
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return a, true // a malformed hop: the proxy itself is the client we know
		}
		h = h.Unmap().WithZone("")
		if !s.trustedProxy(h) {
			return h, true
		}
	}
	return a, true
}

func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// tooManyRequests is the 429 of both limits, with Retry-After in whole
// seconds (at least 1).
func tooManyRequests(w http.ResponseWriter, wait time.Duration, msg string) *apiError {
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	return newError(http.StatusTooManyRequests, "TooManyRequestsError", msg)
}
