package tokenset_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Ensure Verify answers each status, with no window in which an expired
// token works.
func TestVerifyAt_statuses(t *testing.T) {
	t.Parallel()
	var (
		secValid   = secret("alpha", "development", 1)
		secRevoked = secret("alpha", "development", 2)
		secExpires = secret("alpha", "development", 3)
		secBoth    = secret("alpha", "development", 4)
		secRecord  = secret("alpha", "development", 5)
		secRenewed = secret("alpha", "development", 6)
		// A v1 legacy secret is 64 hex with no prefix; Unleash's older
		// ones are 56 hex; bootstrap secrets can be anything.
		secLegacy    = fmt.Sprintf("%064x", 0xbeef)
		secUnleash56 = fmt.Sprintf("%056x", 0xcafe)
		secBootstrap = "*:*.unleash-insecure-admin-api-token"
	)
	exp := at(100)
	withExp := func(sec string) events.TokenCreated {
		c := created(sec, "alpha")
		c.ExpiresAt = &exp
		return c
	}
	imported := func(sec string) events.TokenCreated {
		c := created(sec, "alpha")
		c.Path = events.PathImport
		return c
	}
	s := newSet(t,
		ev(t, 1, "valid", created(secValid, "alpha")),
		ev(t, 2, "revoked", created(secRevoked, "alpha")),
		ev(t, 3, "revoked", events.TokenRevoked{Reason: events.ReasonCompromised}),
		ev(t, 4, "expires", withExp(secExpires)),
		ev(t, 5, "both", withExp(secBoth)),
		ev(t, 6, "both", events.TokenRevoked{Reason: events.ReasonDeleted}),
		ev(t, 7, "recorded", created(secRecord, "alpha")),
		ev(t, 8, "recorded", events.TokenExpired{ExpiresAt: at(8)}),
		ev(t, 9, "renewed", withExp(secRenewed)),
		ev(t, 10, "renewed", events.TokenExpired{ExpiresAt: exp}),
		ev(t, 11, "renewed", events.TokenExpiryChanged{Previous: &exp, New: ptr(exp.Add(time.Hour))}),
		ev(t, 12, "legacy", imported(secLegacy)),
		ev(t, 13, "unleash56", imported(secUnleash56)),
		ev(t, 14, "bootstrap", imported(secBootstrap)),
	)
	cases := []struct {
		name   string
		secret string
		now    time.Time
		wantID string
		want   tokenset.Status
	}{
		{"valid_token", secValid, at(50), "valid", tokenset.Valid},
		{"unknown_secret", secret("alpha", "development", 99), at(50), "", tokenset.Unknown},
		{"empty_secret", "", at(50), "", tokenset.Unknown},
		{"secret_differing_in_last_char", secValid[:len(secValid)-1] + "0", at(50), "", tokenset.Unknown},
		{"revoked_token", secRevoked, at(50), "revoked", tokenset.Revoked},
		{"before_expiry", secExpires, exp.Add(-time.Nanosecond), "expires", tokenset.Valid},
		{"exactly_at_expiry", secExpires, exp, "expires", tokenset.Expired},
		{"after_expiry_without_expired_event", secExpires, exp.Add(time.Hour), "expires", tokenset.Expired},
		{"revoked_wins_over_expired", secBoth, exp.Add(time.Hour), "both", tokenset.Revoked},
		{"expired_recorded_without_expiry", secRecord, at(50), "recorded", tokenset.Expired},
		{"renewed_after_expired_record", secRenewed, exp.Add(time.Minute), "renewed", tokenset.Valid},
		{"renewed_token_expires_again", secRenewed, exp.Add(time.Hour), "renewed", tokenset.Expired},
		{"legacy_64_hex_secret", secLegacy, at(50), "legacy", tokenset.Valid},
		{"unleash_56_hex_secret", secUnleash56, at(50), "unleash56", tokenset.Valid},
		{"bootstrap_secret", secBootstrap, at(50), "bootstrap", tokenset.Valid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tok, st := s.VerifyAt(tc.secret, tc.now)
			id := ""
			if tok != nil {
				id = tok.ID
				if tok.StatusAt(tc.now) != st {
					t.Errorf("Verify's status %v differs from the token's own %v", st, tok.StatusAt(tc.now))
				}
			}
			if st != tc.want || id != tc.wantID || (tok == nil) != (st == tokenset.Unknown) {
				t.Errorf("VerifyAt = (%q, %v), want (%q, %v)", id, st, tc.wantID, tc.want)
			}
			if st != tokenset.Unknown && tok.Verifier() != events.Verifier(tc.secret) {
				t.Error("returned token has another verifier")
			}
		})
	}
}

// Ensure every token of a large set verifies, across growth of the
// verifier index, and only its own secret does.
func TestVerify_large_set(t *testing.T) {
	t.Parallel()
	const n = 5000
	s := tokenset.New()
	for i := 0; i < n; i++ {
		mustApply(t, s, ev(t, uint64(i+1), fmt.Sprint("t", i), created(secret("p", "e", i), "p")))
	}
	for i := 0; i < n; i++ {
		if tok, st := s.VerifyAt(secret("p", "e", i), at(0)); st != tokenset.Valid || tok.ID != fmt.Sprint("t", i) {
			t.Fatalf("secret %d: VerifyAt = (%q, %v), want (t%d, valid)", i, tok.ID, st, i)
		}
		if _, st := s.VerifyAt(secret("p", "e", n+i), at(0)); st != tokenset.Unknown {
			t.Fatalf("unknown secret %d: VerifyAt = %v, want unknown", n+i, st)
		}
	}
}

// Ensure Verify uses the current time.
func TestVerify_uses_the_clock(t *testing.T) {
	t.Parallel()
	past, future := created("s-past", "p"), created("s-future", "p")
	past.ExpiresAt, future.ExpiresAt = ptr(time.Now().Add(-time.Second)), ptr(time.Now().Add(time.Hour))
	s := newSet(t, ev(t, 1, "past", past), ev(t, 2, "future", future))
	if _, st := s.Verify("s-past"); st != tokenset.Expired {
		t.Errorf("Verify(past) = %v, want expired", st)
	}
	if _, st := s.Verify("s-future"); st != tokenset.Valid {
		t.Errorf("Verify(future) = %v, want valid", st)
	}
}

// Ensure a secret created twice (which commands must prevent) verifies as
// the newer token.
func TestVerify_duplicate_verifier_resolves_to_newest(t *testing.T) {
	t.Parallel()
	s := newSet(t,
		ev(t, 1, "old", created("legacy-secret", "p")),
		ev(t, 2, "old", events.TokenRevoked{Reason: events.ReasonDeleted}),
		ev(t, 3, "new", created("legacy-secret", "q")),
	)
	if tok, st := s.VerifyAt("legacy-secret", at(4)); tok.ID != "new" || st != tokenset.Valid {
		t.Errorf("VerifyAt = (%q, %v), want (new, valid)", tok.ID, st)
	}
	// A later event of the older token does not take the secret back.
	mustApply(t, s, ev(t, 4, "old", events.TokenExpired{ExpiresAt: at(4)}))
	if tok, st := s.VerifyAt("legacy-secret", at(5)); tok.ID != "new" || st != tokenset.Valid {
		t.Errorf("after an event of the older token: VerifyAt = (%q, %v), want (new, valid)", tok.ID, st)
	}
	if tok, ok := s.ByID("old"); !ok || !tok.Revoked {
		t.Error("the older token is no longer reachable by id")
	}
}

// Ensure the verification hot path (Check, Lookup) does not allocate, in
// any outcome.
func TestVerify_does_not_allocate(t *testing.T) {
	s := newSet(t,
		ev(t, 1, "a", created(secA, "alpha", "beta")),
		ev(t, 2, "b", created(secret("p", "e", 2), "p")),
		ev(t, 3, "b", events.TokenRevoked{Reason: events.ReasonDeleted}),
	)
	now := at(10)
	cases := []struct {
		name   string
		secret string
	}{
		{"valid", secA},
		{"revoked", secret("p", "e", 2)},
		{"unknown", secret("p", "e", 3)},
	}
	for _, tc := range cases {
		if n := testing.AllocsPerRun(1000, func() { s.Check(tc.secret, now) }); n != 0 {
			t.Errorf("%s: Check allocates %.1f times per call", tc.name, n)
		}
		// VerifyAt allocates the copy it returns, and nothing else.
		want := 1.0
		if tc.name == "unknown" {
			want = 0
		}
		if n := testing.AllocsPerRun(1000, func() { s.VerifyAt(tc.secret, now) }); n != want {
			t.Errorf("%s: VerifyAt allocates %.1f times per call, want %.0f", tc.name, n, want)
		}
		if n := testing.AllocsPerRun(1000, func() { s.Lookup(tc.secret) }); n != 0 {
			t.Errorf("%s: Lookup allocates %.1f times per call", tc.name, n)
		}
	}
}

func TestStatus_String(t *testing.T) {
	t.Parallel()
	for st, want := range map[tokenset.Status]string{
		tokenset.Unknown: "unknown", tokenset.Valid: "valid", tokenset.Revoked: "revoked",
		tokenset.Expired: "expired", tokenset.Status(42): "status(invalid)",
	} {
		if got := st.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(st), got, want)
		}
	}
}
