package httpapi

import (
	"net/http"
	"net/netip"
	"testing"
)

// The per-address limit's key of a direct IPv4 client is RemoteAddr's host
// as it is, taken without allocating (/edge/validate computes it on every
// request); every other form keeps its canonical key.
func TestClientKeyOfDirectIPv4ClientIsItsHostWithoutAllocating(t *testing.T) {
	s := &Server{cfg: Config{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}}
	for _, c := range []struct {
		remote, xff, want string
		allocs            bool
	}{
		{remote: "192.0.2.7:4242", want: "192.0.2.7"},
		{remote: "127.0.0.1:1", want: "127.0.0.1"},
		{remote: "[::ffff:192.0.2.7]:4242", want: "192.0.2.7", allocs: true},
		{remote: "[2001:db8:1:2:3:4:5:6]:4242", want: "2001:db8:1:2::/64", allocs: true},
		{remote: "10.9.0.1:4242", xff: "198.51.100.3", want: "198.51.100.3", allocs: true},
		{remote: "10.9.0.1:4242", want: "10.9.0.1"},
		{remote: "not an address", want: "not an address", allocs: true},
	} {
		r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
		if c.xff != "" {
			r.Header.Set("X-Forwarded-For", c.xff)
		}
		if got := s.clientKey(r); got != c.want {
			t.Errorf("clientKey(%q, X-Forwarded-For %q) = %q, want %q", c.remote, c.xff, got, c.want)
		}
		if n := testing.AllocsPerRun(100, func() { _ = s.clientKey(r) }); !c.allocs && n != 0 {
			t.Errorf("clientKey(%q) allocated %.0f times per call, want 0", c.remote, n)
		}
	}
}
