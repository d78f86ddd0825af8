package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/servicetest"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// concurrently sends the requests req(0..n-1) at once and returns the
// answers in order.
func concurrently(s *servicetest.Service, n int, req func(i int) (method, path, cred string, body any)) []servicetest.Response {
	out := make([]servicetest.Response, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			method, path, cred, body := req(i)
			<-start
			out[i] = s.Do(method, path, cred, body)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// tally counts the answers by status and fails on one outside allowed (or
// a 4xx without the error shape).
func tally(t *testing.T, rs []servicetest.Response, allowed ...int) map[int]int {
	t.Helper()
	got := map[int]int{}
	for _, r := range rs {
		if !mxContainsInt(allowed, r.Status) {
			t.Fatalf("status %d, want one of %v: %s", r.Status, allowed, r.Body)
		}
		if r.Status >= 400 {
			servicetest.CheckErrorShape(t, r)
		}
		got[r.Status]++
	}
	return got
}

// createBareUser creates a user without any token and returns its integer
// id and aggregate id.
func createBareUser(s *servicetest.Service, name string) (int, string) {
	s.T().Helper()
	r := s.Must(http.StatusCreated, "POST", "/api/admin/user-admin", servicetest.AdminSecret,
		map[string]any{"username": name, "rootRole": "Viewer"})
	n := int(r.JSON(s.T())["id"].(float64))
	s.CatchUp()
	u, ok := s.Dir.UserByIntID(uint64(n))
	if !ok {
		s.T().Fatalf("user %d not in the directory", n)
	}
	return n, u.ID
}

func liveTokensOf(s *servicetest.Service, kind, id string) []tokenset.Token {
	s.CatchUp()
	var out []tokenset.Token
	for _, t := range s.Tokens.ByOwner(kind, id) {
		if !t.Revoked {
			out = append(out, t)
		}
	}
	return out
}

// Eight concurrent on-behalf creates of a user's first PAT issue exactly
// one: the first-personal-token claim decides, not the token set.
func TestOnBehalfFirstPAT_ConcurrentCreatesIssueExactlyOne(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	n, id := createBareUser(s, "olga")
	const requests = 8
	rs := concurrently(s, requests, func(i int) (string, string, string, any) {
		return "POST", fmt.Sprintf("/api/admin/user-admin/%d/tokens", n), servicetest.AdminSecret,
			map[string]any{"description": fmt.Sprintf("first-%d", i), "expiresAt": servicetest.FromNow(48 * time.Hour)}
	})
	got := tally(t, rs, http.StatusCreated, http.StatusForbidden)
	if got[http.StatusCreated] != 1 {
		t.Fatalf("%d of %d on-behalf first-PAT creates succeeded, want exactly 1 (%v)", got[http.StatusCreated], requests, got)
	}
	if live := liveTokensOf(s, events.ActorUser, id); len(live) != 1 {
		t.Fatalf("the user has %d PATs, want 1", len(live))
	}
	// The rule holds for ever: after the user's own PAT is revoked, an
	// admin still cannot issue another on their behalf.
	s.Must(http.StatusForbidden, "POST", fmt.Sprintf("/api/admin/user-admin/%d/tokens", n), servicetest.AdminSecret,
		map[string]any{"description": "again", "expiresAt": servicetest.FromNow(48 * time.Hour)})
}

// Sixteen concurrent PAT creates by one Viewer (who holds one already)
// never leave more live PATs than the limit: each live PAT holds one of
// its owner's numbered slots in the stream.
func TestPATLimit_ConcurrentCreatesNeverExceedTheLimit(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	u := s.CreateUser("pia", "Viewer")
	_, id := func() (int, string) {
		s.CatchUp()
		d, _ := s.Dir.UserByIntID(uint64(u.IntID))
		return u.IntID, d.ID
	}()
	const requests = 16
	limit := s.Commands.MaxAccountTokens()
	rs := concurrently(s, requests, func(i int) (string, string, string, any) {
		return "POST", "/api/admin/user/tokens", u.Secret,
			map[string]any{"description": fmt.Sprintf("pat-%d", i), "expiresAt": servicetest.FromNow(48 * time.Hour)}
	})
	got := tally(t, rs, http.StatusCreated, http.StatusForbidden, http.StatusConflict)
	live := liveTokensOf(s, events.ActorUser, id)
	if len(live) > limit || got[http.StatusCreated] != len(live)-1 {
		t.Fatalf("%d live PATs after %d creates answered 201 (limit %d; %v)", len(live), got[http.StatusCreated], limit, got)
	}
	if got[http.StatusCreated] == 0 {
		t.Fatalf("no create succeeded: %v", got)
	}
	// A revoked PAT frees its slot: one more create is accepted when the
	// user is at the limit.
	if len(live) == limit {
		s.Must(http.StatusForbidden, "POST", "/api/admin/user/tokens", u.Secret,
			map[string]any{"description": "one-too-many", "expiresAt": servicetest.FromNow(48 * time.Hour)})
		s.Must(http.StatusOK, "DELETE", fmt.Sprintf("/api/admin/user/tokens/%d", live[len(live)-1].CreatedSeq), u.Secret, nil)
		s.Must(http.StatusCreated, "POST", "/api/admin/user/tokens", u.Secret,
			map[string]any{"description": "after-revoke", "expiresAt": servicetest.FromNow(48 * time.Hour)})
	}
}

// Eight concurrent deletions of all eight environments never leave none:
// each deletion expects the last sequence of every environment event, so
// of the deletions that decided on the same environments exactly one is
// stored and the others decide again (409, or 403 for the last one).
// Three rounds, each deleting every environment there is.
func TestEnvironmentDeletes_ConcurrentDeletionsOfAllLeaveOne(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	for round := range 3 {
		s.CatchUp()
		var names []string
		for _, e := range s.Dir.Environments() {
			names = append(names, e.Name)
		}
		for i := len(names); i < 8; i++ {
			name := fmt.Sprintf("env%d-%d", round, i)
			s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": name, "type": "test"})
			names = append(names, name)
		}
		rs := concurrently(s, len(names), func(i int) (string, string, string, any) {
			return "DELETE", "/api/admin/environments/" + names[i], servicetest.AdminSecret, nil
		})
		got := tally(t, rs, http.StatusOK, http.StatusConflict, http.StatusForbidden)
		s.CatchUp()
		if left := len(s.Dir.Environments()); left != len(names)-got[http.StatusOK] || left == 0 {
			t.Fatalf("round %d: %d environments left after %d of %d deletions answered 200 (%v)", round, left, got[http.StatusOK], len(names), got)
		}
	}
}

// Tokens created while their project (or environment) is being deleted
// never validate: the token set applies the deletion in stream order, so a
// token.created stored after it is born orphaned; the sweeper then records
// the revocation.
func TestScopeDeletion_TokensCreatedMeanwhileNeverValidate(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	tests := []struct {
		name   string
		create func(i int) map[string]any
		delete string
	}{
		{"project", func(i int) map[string]any {
			return map[string]any{"tokenName": fmt.Sprintf("late-%d", i), "type": "backend", "environment": "development", "projects": []string{"doomed"}}
		}, "/api/admin/projects/doomed"},
		{"environment", func(i int) map[string]any {
			return map[string]any{"tokenName": fmt.Sprintf("late-%d", i), "type": "backend", "environment": "doomed-env"}
		}, "/api/admin/environments/doomed-env"},
	}
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "doomed", "name": "Doomed"})
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "doomed-env", "type": "test"})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.For(t)
			const creates = 12
			rs := concurrently(s, creates+1, func(i int) (string, string, string, any) {
				if i == creates/2 {
					return "DELETE", tt.delete, servicetest.AdminSecret, nil
				}
				return "POST", "/api/admin/api-tokens", servicetest.AdminSecret, tt.create(i)
			})
			var secrets []string
			for i, r := range rs {
				switch {
				case i == creates/2 && r.Status != http.StatusOK:
					t.Fatalf("deletion: %d %s", r.Status, r.Body)
				case i == creates/2:
				case r.Status == http.StatusCreated:
					secrets = append(secrets, r.JSON(t)["secret"].(string))
				case r.Status != http.StatusBadRequest:
					t.Fatalf("create: %d %s", r.Status, r.Body)
				}
			}
			t.Logf("%d of %d creates succeeded around the deletion", len(secrets), creates)
			s.CatchUp()
			for _, sec := range secrets {
				if tok, st := s.Tokens.Verify(sec); st == tokenset.Valid {
					t.Fatalf("token %s of the deleted %s validates", tok.ID, tt.name)
				}
			}
			// The sweeper records a revocation for each (bounded wait).
			servicetest.WaitFor(t, 10*time.Second, func() error {
				s.CatchUp()
				pending := 0
				for _, sec := range secrets {
					if tok, _ := s.Tokens.Lookup(sec); !tok.Revoked {
						pending++
					}
				}
				if pending > 0 {
					return fmt.Errorf("%d tokens of the deleted %s still not revoked in the stream", pending, tt.name)
				}
				return nil
			})
		})
	}
}

// A deletion touching more tokens than one atomic append holds succeeds:
// the tokens that fit are revoked with it, the rest verify as revoked from
// the deletion on and are revoked by the sweeper.
func TestProjectDeletion_MoreTokensThanOneBatch(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "big", "name": "Big"})
	s.CatchUp()
	const n = commands.MaxAtomicBatch + 20
	ctx := context.Background()
	var secrets []string
	for i := range n {
		c, err := s.Commands.CreateToken(ctx, commands.Meta{Actor: events.System}, commands.CreateToken{Type: events.TokenBackend,
			Name: fmt.Sprintf("b%d", i), Environment: "development", Projects: []string{"big"}, Path: events.PathAdminAPI})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, c.Secret.Reveal())
	}
	s.CatchUp()
	s.Must(http.StatusOK, "DELETE", "/api/admin/projects/big", servicetest.AdminSecret, nil)
	s.CatchUp()
	for _, sec := range secrets {
		if tok, st := s.Tokens.Verify(sec); st == tokenset.Valid {
			t.Fatalf("token %s of the deleted project validates", tok.ID)
		}
	}
	// The sweeper revokes them in batches behind other work; on a loaded
	// 2-core CI machine that took more than 20 s, so the bound is generous.
	servicetest.WaitFor(t, 90*time.Second, func() error {
		s.CatchUp()
		if n := len(s.Tokens.Stale(0)); n > 0 {
			return fmt.Errorf("%d tokens of the deleted project still not revoked in the stream", n)
		}
		return nil
	})
	for _, sec := range secrets {
		if tok, _ := s.Tokens.Lookup(sec); !tok.Revoked || tok.RevokeReason != events.ReasonProjectDeleted {
			t.Fatalf("token %s: revoked %v, reason %q", tok.ID, tok.Revoked, tok.RevokeReason)
		}
	}
}

// PATs and service-account tokens created while their owner is being
// deleted never authenticate, and are revoked in the stream.
func TestOwnerDeletion_AccountTokensCreatedMeanwhileNeverWork(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	sa := s.CreateServiceAccount("doomed-bot", "Viewer")
	const creates = 10
	rs := concurrently(s, creates+1, func(i int) (string, string, string, any) {
		if i == creates/2 {
			return "DELETE", fmt.Sprintf("/api/admin/service-account/%d", sa.IntID), servicetest.AdminSecret, nil
		}
		return "POST", fmt.Sprintf("/api/admin/service-account/%d/token", sa.IntID), servicetest.AdminSecret,
			map[string]any{"description": fmt.Sprintf("late-%d", i), "expiresAt": servicetest.FromNow(48 * time.Hour)}
	})
	var secrets []string
	for i, r := range rs {
		switch {
		case i == creates/2 && r.Status != http.StatusOK:
			t.Fatalf("deletion: %d %s", r.Status, r.Body)
		case i != creates/2 && r.Status == http.StatusCreated:
			secrets = append(secrets, r.JSON(t)["secret"].(string))
		}
	}
	s.CatchUp()
	for _, sec := range append(secrets, sa.Secret) {
		if r := s.Do("GET", "/api/admin/api-tokens", sec, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("a token of the deleted service account answered %d", r.Status)
		}
		if tok, st := s.Tokens.Verify(sec); st == tokenset.Valid {
			t.Fatalf("token %s of the deleted service account validates", tok.ID)
		}
	}
}

// A token.created stored after its project's or environment's deletion (a
// create whose read of the catalogue was stale: here a handler without a
// catalogue port, as a node lagging behind would be) is born invalid and
// is revoked by the sweeper: deterministically, in stream order.
func TestScopeDeletion_TokenStoredAfterTheDeletionIsBornInvalid(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	s.Must(http.StatusCreated, "POST", "/api/admin/projects", servicetest.AdminSecret, map[string]any{"id": "gone", "name": "Gone"})
	s.Must(http.StatusCreated, "POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": "gone-env", "type": "test"})
	s.Must(http.StatusOK, "DELETE", "/api/admin/projects/gone", servicetest.AdminSecret, nil)
	s.Must(http.StatusOK, "DELETE", "/api/admin/environments/gone-env", servicetest.AdminSecret, nil)
	stale := commands.NewHandler(s.Store, commands.Config{})
	tests := []struct {
		name   string
		c      commands.CreateToken
		reason string
	}{
		{"project", commands.CreateToken{Type: events.TokenBackend, Name: "late", Environment: "development",
			Projects: []string{"gone"}, Path: events.PathAdminAPI}, events.ReasonProjectDeleted},
		{"environment", commands.CreateToken{Type: events.TokenBackend, Name: "late", Environment: "gone-env",
			Projects: []string{"default"}, Path: events.PathAdminAPI}, events.ReasonEnvironmentDeleted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := s.For(t)
			c, err := stale.CreateToken(context.Background(), commands.Meta{Actor: events.System}, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			s.CatchUp()
			if r := s.Do("POST", "/edge/validate", "", map[string]any{"tokens": []string{c.Secret.Reveal()}}); r.Status != http.StatusOK ||
				len(r.JSON(t)["tokens"].([]any)) != 0 {
				t.Fatalf("edge validate: %d %s", r.Status, r.Body)
			}
			servicetest.WaitFor(t, 10*time.Second, func() error {
				s.CatchUp()
				tok, _ := s.Tokens.ByID(c.TokenID)
				if !tok.Revoked {
					return errors.New("the sweeper did not revoke the late token")
				}
				if tok.RevokeReason != tt.reason {
					t.Fatalf("revoked with reason %q, want %q", tok.RevokeReason, tt.reason)
				}
				return nil
			})
		})
	}
}
