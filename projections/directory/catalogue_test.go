package directory_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/directory"
)

// Ensure project.updated, environment.updated and environment.deleted
// change what the lookups and lists return.
func TestDirectory_CatalogueChanges(t *testing.T) {
	t.Parallel()
	development := directory.Environment{Name: "development", Type: "development", CreatedAt: at(2)}
	production := directory.Environment{Name: "production", Type: "production", CreatedAt: at(3)}
	tests := []struct {
		name  string
		more  func(s *stream) // events after the fixture
		check func(t *testing.T, d *directory.Directory)
	}{
		{"project_update_replaces_name_and_description_and_keeps_members", func(s *stream) {
			s.ev("checkout", events.ProjectUpdated{Name: "Checkout and Payments"})
		}, func(t *testing.T, d *directory.Directory) {
			want := directory.Project{ID: "checkout", Name: "Checkout and Payments", CreatedAt: at(10),
				Members: map[events.Owner]string{alice: events.RoleOwner, bot: "r-read"}}
			if got, ok := d.Project("checkout"); !ok || !equalProject(got, want) {
				t.Errorf("Project(checkout) = %+v %v, want %+v", got, ok, want)
			}
			if got := d.Projects(); len(got) != 2 || got[0].Name != "Checkout and Payments" {
				t.Errorf("Projects = %+v", got)
			}
		}},
		{"latest_project_update_wins", func(s *stream) {
			s.ev("default", events.ProjectUpdated{Name: "Main", Description: "first"})
			s.ev("default", events.ProjectUpdated{Name: "Main", Description: "second"})
		}, func(t *testing.T, d *directory.Directory) {
			if got, _ := d.Project("default"); got.Name != "Main" || got.Description != "second" {
				t.Errorf("Project(default) = %+v", got)
			}
		}},
		{"environment_update_changes_type_only", func(s *stream) {
			s.ev("production", events.EnvironmentUpdated{Type: "preproduction"})
		}, func(t *testing.T, d *directory.Directory) {
			want := production
			want.Type = "preproduction"
			if got, ok := d.Environment("production"); !ok || got != want {
				t.Errorf("Environment(production) = %+v %v, want %+v", got, ok, want)
			}
			if got := d.Environments(); !slices.Equal(got, []directory.Environment{development, want}) {
				t.Errorf("Environments = %+v", got)
			}
		}},
		{"deleted_environment_is_neither_found_nor_listed", func(s *stream) {
			s.ev("production", events.EnvironmentUpdated{Type: "preproduction"})
			s.ev("production", events.EnvironmentDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if got, ok := d.Environment("production"); ok {
				t.Errorf("Environment(production) = %+v, want not found", got)
			}
			if got := d.Environments(); !slices.Equal(got, []directory.Environment{development}) {
				t.Errorf("Environments = %+v", got)
			}
		}},
		{"deleted_environment_name_created_again_starts_fresh", func(s *stream) {
			s.ev("production", events.EnvironmentDeleted{})
			s.ev("production", events.EnvironmentCreated{Type: "test"})
		}, func(t *testing.T, d *directory.Directory) {
			want := directory.Environment{Name: "production", Type: "test", CreatedAt: at(19)}
			if got, ok := d.Environment("production"); !ok || got != want {
				t.Errorf("Environment(production) = %+v %v, want %+v", got, ok, want)
			}
		}},
		{"every_environment_deleted_leaves_an_empty_list", func(s *stream) {
			s.ev("production", events.EnvironmentDeleted{})
			s.ev("development", events.EnvironmentDeleted{})
		}, func(t *testing.T, d *directory.Directory) {
			if got := d.Environments(); got == nil || len(got) != 0 {
				t.Errorf("Environments = %#v, want an empty list", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			d := directory.New()
			mustApply(t, d, s.all...)
			before := d.Digest()
			tt.more(s)
			mustApply(t, d, s.all...) // the fixture again is ignored (idempotent by sequence)
			if d.LastApplied() != s.seq {
				t.Fatalf("LastApplied = %d, want %d", d.LastApplied(), s.seq)
			}
			if d.Digest() == before {
				t.Error("digest did not change")
			}
			tt.check(t, d)
			replay := directory.New()
			mustApply(t, replay, s.all...)
			if replay.Digest() != d.Digest() {
				t.Error("a fresh replay of the same stream has another digest")
			}
		})
	}
}

// Ensure catalogue changes of aggregates the directory does not hold are
// refused as ErrCorrupt and change nothing, LastApplied included.
func TestDirectory_CatalogueChangesOfUnknownAggregatesAreCorrupt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		event func(s *stream) events.Envelope // after the fixture
	}{
		{"update_of_unknown_project", func(s *stream) events.Envelope {
			return s.ev("nope", events.ProjectUpdated{Name: "x"})
		}},
		{"update_of_unknown_environment", func(s *stream) events.Envelope {
			return s.ev("nope", events.EnvironmentUpdated{Type: "test"})
		}},
		{"deletion_of_unknown_environment", func(s *stream) events.Envelope {
			return s.ev("nope", events.EnvironmentDeleted{})
		}},
		{"update_of_deleted_environment", func(s *stream) events.Envelope {
			s.ev("production", events.EnvironmentDeleted{})
			return s.ev("production", events.EnvironmentUpdated{Type: "test"})
		}},
		{"second_deletion_of_an_environment", func(s *stream) events.Envelope {
			s.ev("production", events.EnvironmentDeleted{})
			return s.ev("production", events.EnvironmentDeleted{})
		}},
		{"environment_deletion_stored_under_project_kind", func(s *stream) events.Envelope {
			e := s.ev("production", events.EnvironmentDeleted{})
			e.AggregateKind = events.KindProject
			return e
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := fixture(t)
			e := tt.event(s)
			d := directory.New()
			mustApply(t, d, s.all[:len(s.all)-1]...)
			before, last := d.Digest(), d.LastApplied()
			if err := d.Apply(e); !errors.Is(err, directory.ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
			if d.Digest() != before || d.LastApplied() != last {
				t.Fatal("a refused event changed the directory")
			}
		})
	}
}
