package tokenset_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Values a compact record cannot hold inline (a name longer than 65,535
// bytes, an expiry past 2262, times in a zone other than UTC) come back
// exactly, from events and from a snapshot, and the far expiry verifies
// as not expired.
func TestTokensKeepLongValuesFarTimesAndZones(t *testing.T) {
	far := time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
	zoned := time.Date(2027, 1, 2, 3, 4, 5, 6, time.FixedZone("", 2*3600))
	long := strings.Repeat("n", 70_000)
	sec := secret("default", "development", 1)
	c := created(sec, "default")
	c.Name, c.ExpiresAt = long, &far
	zc := created(secret("default", "development", 2), "default")
	zc.ExpiresAt = &zoned
	evs := []events.Envelope{
		ev(t, 1, "long", c),
		ev(t, 2, "zoned", zc),
		ev(t, 3, "zoned", events.TokenRevoked{Reason: events.ReasonDeleted}),
		ev(t, 4, "next", created(secret("default", "development", 3), "default")),
	}
	applied := newSet(t, evs...)
	restored := tokenset.New()
	if err := restored.RestoreSnapshot(applied.AppendSnapshot(nil)); err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]*tokenset.Set{"applied": applied, "restored": restored} {
		t.Run(name, func(t *testing.T) {
			tok, ok := s.ByID("long")
			if !ok || tok.Name != long || tok.ExpiresAt != far || tok.Hint != hint(sec) {
				t.Errorf("long token: found %v, name of %d bytes, expires %v, hint %q", ok, len(tok.Name), tok.ExpiresAt, tok.Hint)
			}
			if got := s.ByName(long); len(got) != 1 || got[0].ID != "long" {
				t.Errorf("ByName(long name) = %v", ids(got))
			}
			if _, st := s.Check(sec, at(10)); st != tokenset.Valid {
				t.Errorf("a token expiring in 9999 is %v", st)
			}
			z, _ := s.ByID("zoned")
			if z.ExpiresAt != zoned && !(z.ExpiresAt.Equal(zoned) && z.ExpiresAt.Format(time.RFC3339Nano) == zoned.Format(time.RFC3339Nano)) {
				t.Errorf("zoned expiry = %v, want %v", z.ExpiresAt, zoned)
			}
			if !z.Revoked || z.RevokedAt != at(3) {
				t.Errorf("zoned token: revoked %v at %v, want at %v", z.Revoked, z.RevokedAt, at(3))
			}
			if n, _ := s.ByID("next"); n.Name != "sdk" || n.CreatedAt != at(4) {
				t.Errorf("the token after the long one: name %q created %v", n.Name, n.CreatedAt)
			}
		})
	}
	if applied.Digest() != restored.Digest() {
		t.Error("the restored set's digest differs")
	}
}
