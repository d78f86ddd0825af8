package commands

import (
	"fmt"
	"maps"

	"github.com/tokenledger/tokenledger/events"
)

// AggregateState is the bookkeeping every user, service-account, role, project and environment aggregate
// carries, folded from its own events. It is embedded in UserState,
// ServiceAccountState, RoleState, ProjectState and EnvironmentState.
type AggregateState struct {
	// Exists is true once the aggregate's created event was recorded.
	Exists bool
	// Deleted is true once its deleted event was recorded. A deleted
	// aggregate keeps Exists (its history stays) and accepts no command.
	Deleted bool
	// ID is the aggregate id (user/service account/role UUID, project id,
	// environment name).
	ID string
	// Version is the stream sequence of the aggregate's last event: the
	// expectation of the next append (0: no event yet). LastHash is that
	// event's hash: the next event's Prev.
	Version  uint64
	LastHash string
	// commands are the command ids recorded on the aggregate, so a retried
	// command is recognised (see Command). Shared between the states of one
	// aggregate's history, never copied (see commandSet).
	commands *commandSet
}

// Command reports the sequence of the event that recorded command id on
// the aggregate, if this state includes one: a command with that id was
// carried out, and running it again is its replay.
func (a AggregateState) Command(id string) (uint64, bool) {
	return a.commands.seq(id, a.Version)
}

// Live reports whether the aggregate exists and was not deleted.
func (a AggregateState) Live() bool { return a.Exists && !a.Deleted }

// base returns the bookkeeping; it makes every state type satisfy folded.
func (a AggregateState) base() AggregateState { return a }

// record notes e as the aggregate's latest event.
func (a *AggregateState) record(e *events.Envelope) {
	a.ID = e.AggregateID
	a.Version = e.Sequence
	a.LastHash = e.Hash
	if e.CommandID != "" {
		if a.commands == nil {
			a.commands = newCommandSet()
		}
		a.commands.add(e.CommandID, e.Sequence)
	}
}

// folded is satisfied by every state type that embeds AggregateState.
type folded interface{ base() AggregateState }

// stateful is satisfied by every state type S: it embeds AggregateState
// and folds further events onto a copy of itself (the state cache's
// increment; S{}.more(evs) is S's Fold).
type stateful[S any] interface {
	folded
	more(evs []events.Envelope) (S, error)
}

// UserState is a user as the command side sees it.
type UserState struct {
	AggregateState
	Username string
	Email    string
	Name     string
	RootRole string // a predefined root role name or a custom root role's id
}

// ServiceAccountState is a service account as the command side sees it.
type ServiceAccountState struct {
	AggregateState
	Name     string
	Username string
	RootRole string
}

// RoleState is a custom role as the command side sees it. Predefined roles
// have no aggregate and no RoleState.
type RoleState struct {
	AggregateState
	Name        string
	Type        string // events.RoleTypeRoot or events.RoleTypeProject
	Description string
	Permissions []string
}

// ProjectState is a project as the command side sees it.
type ProjectState struct {
	AggregateState
	Name        string
	Description string
	// Members maps each member (a user or service account) to its project
	// role: events.RoleOwner, events.RoleMember or a custom project role id.
	Members map[events.Owner]string
}

// EnvironmentState is an environment as the command side sees it. A
// deleted environment keeps Exists (its name is not reused) and has Deleted
// set.
type EnvironmentState struct {
	AggregateState
	Type string
}

// foldEach decodes evs in order, hands each payload to apply and records
// the event on agg. An undecodable event or one apply rejects stops the
// fold with an error.
func foldEach(kind string, evs []events.Envelope, agg *AggregateState, apply func(events.Payload) bool) error {
	for i := range evs {
		e := &evs[i]
		p, err := e.Payload()
		if err != nil {
			return err
		}
		if e.AggregateKind != kind || !apply(p) {
			return fmt.Errorf("%s %s: unexpected event %s", kind, e.AggregateID, e.Type)
		}
		if e.Sequence != 0 && e.Sequence <= agg.Version {
			return fmt.Errorf("%s %s: event at sequence %d does not follow %d", kind, e.AggregateID, e.Sequence, agg.Version)
		}
		agg.record(e)
	}
	return nil
}

// FoldUser builds a UserState from a user's events in stream order.
func FoldUser(evs []events.Envelope) (UserState, error) { return UserState{}.more(evs) }

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s UserState) more(evs []events.Envelope) (UserState, error) {
	err := foldEach(events.KindUser, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.UserCreated:
			s.Exists = true
			s.Username, s.Email, s.Name, s.RootRole = d.Username, d.Email, d.Name, d.RootRole
		case events.UserRoleChanged:
			s.RootRole = d.RootRole
		case events.UserDeleted:
			s.Deleted = true
		default:
			return false
		}
		return true
	})
	if err != nil {
		return UserState{}, err
	}
	return s, nil
}

// FoldServiceAccount builds a ServiceAccountState from a service account's
// events in stream order.
func FoldServiceAccount(evs []events.Envelope) (ServiceAccountState, error) {
	return ServiceAccountState{}.more(evs)
}

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s ServiceAccountState) more(evs []events.Envelope) (ServiceAccountState, error) {
	err := foldEach(events.KindServiceAccount, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.ServiceAccountCreated:
			s.Exists = true
			s.Name, s.Username, s.RootRole = d.Name, d.Username, d.RootRole
		case events.ServiceAccountUpdated:
			s.Name, s.RootRole = d.Name, d.RootRole
		case events.ServiceAccountDeleted:
			s.Deleted = true
		default:
			return false
		}
		return true
	})
	if err != nil {
		return ServiceAccountState{}, err
	}
	return s, nil
}

// FoldRole builds a RoleState from a custom role's events in stream order.
func FoldRole(evs []events.Envelope) (RoleState, error) { return RoleState{}.more(evs) }

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s RoleState) more(evs []events.Envelope) (RoleState, error) {
	err := foldEach(events.KindRole, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.RoleCreated:
			s.Exists = true
			s.Name, s.Type, s.Description, s.Permissions = d.Name, d.Type, d.Description, d.Permissions
		case events.RoleUpdated:
			s.Name, s.Description, s.Permissions = d.Name, d.Description, d.Permissions
		case events.RoleDeleted:
			s.Deleted = true
		default:
			return false
		}
		return true
	})
	if err != nil {
		return RoleState{}, err
	}
	return s, nil
}

// FoldProject builds a ProjectState from a project's events in stream
// order.
func FoldProject(evs []events.Envelope) (ProjectState, error) { return ProjectState{}.more(evs) }

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s ProjectState) more(evs []events.Envelope) (ProjectState, error) {
	if len(evs) > 0 {
		s.Members = maps.Clone(s.Members) // the fold edits it in place
	}
	err := foldEach(events.KindProject, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.ProjectCreated:
			s.Exists = true
			s.Name, s.Description = d.Name, d.Description
			s.Members = map[events.Owner]string{}
		case events.ProjectUpdated:
			s.Name, s.Description = d.Name, d.Description
		case events.ProjectDeleted:
			s.Deleted = true
		case events.ProjectMemberAdded:
			if s.Members == nil {
				s.Members = map[events.Owner]string{}
			}
			s.Members[d.Member] = d.Role
		case events.ProjectMemberRemoved:
			delete(s.Members, d.Member)
		default:
			return false
		}
		return true
	})
	if err != nil {
		return ProjectState{}, err
	}
	return s, nil
}

// FoldEnvironment builds an EnvironmentState from an environment's events
// in stream order.
func FoldEnvironment(evs []events.Envelope) (EnvironmentState, error) {
	return EnvironmentState{}.more(evs)
}

// more returns a copy of s with evs, the events after s.Version in
// stream order, folded on; s itself is unchanged (the state cache hands
// out s to concurrent commands).
func (s EnvironmentState) more(evs []events.Envelope) (EnvironmentState, error) {
	err := foldEach(events.KindEnvironment, evs, &s.AggregateState, func(p events.Payload) bool {
		switch d := p.(type) {
		case events.EnvironmentCreated:
			s.Exists = true
			s.Type = d.Type
		case events.EnvironmentUpdated:
			s.Type = d.Type
		case events.EnvironmentDeleted:
			s.Deleted = true
		default:
			return false
		}
		return true
	})
	if err != nil {
		return EnvironmentState{}, err
	}
	return s, nil
}
