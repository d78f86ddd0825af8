package httpapi

import (
	"net/netip"
	"testing"
)

func TestConnectionsOfOneIPv6HostCountTogether(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"},
		{"::ffff:127.0.0.2", "127.0.0.2"},
	} {
		a, b := netip.MustParseAddr(tc.a).Unmap(), netip.MustParseAddr(tc.b).Unmap()
		if clientGroup(a) != clientGroup(b) {
			t.Errorf("%s and %s count apart: %s, %s", tc.a, tc.b, clientGroup(a), clientGroup(b))
		}
	}
	for _, tc := range []struct{ a, b string }{
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"127.0.0.2", "127.0.0.3"},
	} {
		if a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b); clientGroup(a) == clientGroup(b) {
			t.Errorf("%s and %s count together", tc.a, tc.b)
		}
	}
}
