package tokenset_test

import (
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// A deleted project, environment or owner makes the tokens acting for it
// verify as revoked in stream order, whether they were created before or
// after the deletion (a create that raced the deletion): on every node and
// every replay alike. A token that keeps a live project stays valid but is
// listed as stale until its scope is narrowed.
func TestSet_TokensOfDeletedScopesOrOwnersStopVerifying(t *testing.T) {
	owner := events.Owner{Kind: events.ActorUser, ID: "u-1"}
	pat := func(sec string) events.TokenCreated {
		c := created(sec)
		c.TokenType, c.Environment, c.Path, c.Owner = events.TokenPersonal, "", events.PathPAT, &owner
		return c
	}
	onlyCheckout := secret("checkout", "development", 1)
	twoProjects := secret("[]", "development", 2)
	bornLate := secret("checkout", "development", 3)
	ofStaging := secret("default", "staging", 4)
	stagingLate := secret("default", "staging", 5)
	patEarly, patLate := "user:early", "user:late"
	staging := created(ofStaging, "default")
	staging.Environment = "staging"
	stagingAfter := created(stagingLate, "default")
	stagingAfter.Environment = "staging"
	s := newSet(t,
		ev(t, 1, "t-checkout", created(onlyCheckout, "checkout")),
		ev(t, 2, "t-two", created(twoProjects, "checkout", "default")),
		ev(t, 3, "t-staging", staging),
		ev(t, 4, "t-pat-early", pat(patEarly)),
		ev(t, 5, "checkout", events.ProjectDeleted{}),
		ev(t, 6, "t-born-late", created(bornLate, "checkout")),
		ev(t, 7, "staging", events.EnvironmentDeleted{}),
		ev(t, 8, "t-staging-late", stagingAfter),
		ev(t, 9, "u-1", events.UserDeleted{}),
		ev(t, 10, "t-pat-late", pat(patLate)),
	)
	tests := []struct {
		name, secret string
		want         tokenset.Status
	}{
		{"only_project_deleted_later", onlyCheckout, tokenset.Revoked},
		{"one_of_two_projects_deleted", twoProjects, tokenset.Valid},
		{"created_after_its_project_was_deleted", bornLate, tokenset.Revoked},
		{"environment_deleted_later", ofStaging, tokenset.Revoked},
		{"created_after_its_environment_was_deleted", stagingLate, tokenset.Revoked},
		{"owner_deleted_later", patEarly, tokenset.Revoked},
		{"created_after_its_owner_was_deleted", patLate, tokenset.Revoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, got := s.VerifyAt(tt.secret, at(11)); got != tt.want {
				t.Fatalf("status %v, want %v", got, tt.want)
			}
		})
	}
	want := []string{"t-checkout", "t-two", "t-staging", "t-pat-early", "t-born-late", "t-staging-late", "t-pat-late"}
	if got := ids(s.Stale(0)); !slices.Equal(got, want) {
		t.Fatalf("stale %v, want %v", got, want)
	}
	// Recording the revocations and the narrowing empties the list.
	var done []events.Envelope
	seq := uint64(11)
	for _, id := range want {
		var p events.Payload = events.TokenRevoked{Reason: events.ReasonProjectDeleted}
		if id == "t-two" {
			p = events.TokenScoped{Projects: []string{"default"}, PreviousProjects: []string{"checkout", "default"}}
		}
		done = append(done, ev(t, seq, id, p))
		seq++
	}
	mustApply(t, s, done...)
	if got := s.Stale(0); len(got) != 0 {
		t.Fatalf("still stale after the sweep: %v", ids(got))
	}
	if _, got := s.VerifyAt(twoProjects, at(seq)); got != tokenset.Valid {
		t.Fatalf("narrowed token: %v, want valid", got)
	}
}
