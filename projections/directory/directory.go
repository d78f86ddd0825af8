package directory

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// ErrCorrupt is returned (wrapped) by [Directory.Apply] for an event of a
// kind the directory owns that it cannot apply: a payload that does not
// decode, an event for an aggregate never created, a second created event
// for a live aggregate, or a payload stored under another aggregate kind.
// The event is not applied and the directory is unchanged; a stream that
// yields such an event needs an operator, not a retry.
var ErrCorrupt = errors.New("directory cannot apply event")

// User is a person who may log in and act through personal access tokens.
type User struct {
	ID       string // aggregate id (UUID)
	IntID    uint64 // stream sequence of user.created: Unleash's integer id
	Username string
	Email    string
	Name     string
	RootRole string // a predefined root role name or a custom root role's id
	// CreatedAt is the time of user.created.
	CreatedAt time.Time
	Deleted   bool
}

// ServiceAccount is a principal that cannot log in and acts only through
// its tokens.
type ServiceAccount struct {
	ID        string
	IntID     uint64 // stream sequence of serviceaccount.created
	Name      string
	Username  string
	RootRole  string
	CreatedAt time.Time
	Deleted   bool
}

// Role is a custom role. Predefined roles are not in the directory.
type Role struct {
	ID          string
	IntID       uint64 // stream sequence of role.created
	Name        string
	Type        string // events.RoleTypeRoot or events.RoleTypeProject
	Description string
	Permissions []string // sorted as stored
	CreatedAt   time.Time
	Deleted     bool
}

// Project is a project and its members.
type Project struct {
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
	Deleted     bool
	// Members maps each member to its project role (events.RoleOwner,
	// events.RoleMember or a custom project role's id).
	Members map[events.Owner]string
}

// Environment is an environment tokens can be scoped to. A deleted
// environment is not in the directory.
type Environment struct {
	Name      string
	Type      string
	CreatedAt time.Time
}

// Directory is the principal and catalogue read model. Create one with
// [New]; the zero value is not usable.
//
// A Directory is safe for concurrent use: any number of goroutines may look
// things up while one goroutine applies events. Readers never see a
// half-applied event.
type Directory struct {
	mu   sync.RWMutex
	last uint64

	users      map[string]*User
	userSeq    map[uint64]*User
	userOrder  []*User            // by IntID
	byUsername map[string][]*User // by IntID
	byEmail    map[string][]*User // lower-cased e-mail → users, by IntID

	accounts     map[string]*ServiceAccount
	accountSeq   map[uint64]*ServiceAccount
	accountOrder []*ServiceAccount

	roles     map[string]*Role
	roleSeq   map[uint64]*Role
	roleOrder []*Role

	projects map[string]*Project
	envs     map[string]*Environment
}

// New returns an empty Directory.
func New() *Directory {
	return &Directory{
		users:      map[string]*User{},
		userSeq:    map[uint64]*User{},
		byUsername: map[string][]*User{},
		byEmail:    map[string][]*User{},
		accounts:   map[string]*ServiceAccount{},
		accountSeq: map[uint64]*ServiceAccount{},
		roles:      map[string]*Role{},
		roleSeq:    map[uint64]*Role{},
		projects:   map[string]*Project{},
		envs:       map[string]*Environment{},
	}
}

// owned are the aggregate kinds the directory applies.
var owned = map[string]bool{
	events.KindUser:           true,
	events.KindServiceAccount: true,
	events.KindRole:           true,
	events.KindProject:        true,
	events.KindEnvironment:    true,
}

// LastApplied is the stream sequence of the last event applied (0 before
// the first).
func (d *Directory) LastApplied() uint64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.last
}

// Apply applies one event, which must come from the stream in order.
//
//   - An event whose Sequence is at or below [Directory.LastApplied] was
//     applied already and is ignored (no error): Apply is idempotent by
//     sequence.
//   - Events of kinds the directory does not own (token, bootstrap, …)
//     change nothing but advance LastApplied.
//   - An event of an owned kind that cannot be applied returns an error
//     wrapping [ErrCorrupt] and leaves the directory unchanged, LastApplied
//     included.
//   - An event without a stream sequence (0) is an error: it cannot be
//     ordered.
//
// Apply never panics on bad input.
func (d *Directory) Apply(env events.Envelope) error {
	if env.Sequence == 0 {
		return fmt.Errorf("directory: apply %s event %s: no stream sequence", env.Type, env.ID)
	}
	// Decode before taking the write lock, so readers are not blocked
	// behind JSON decoding.
	var (
		p    events.Payload
		perr error
	)
	mine := owned[env.AggregateKind]
	if mine {
		p, perr = env.Payload()
		if perr == nil && p.AggregateKind() != env.AggregateKind {
			perr = fmt.Errorf("a %s event stored under kind %s", p.AggregateKind(), env.AggregateKind)
		}
	}

	d.mu.Lock()
	defer d.mu.Unlock()
	if env.Sequence <= d.last {
		return nil
	}
	if mine {
		if perr == nil {
			perr = d.apply(&env, p)
		}
		if perr != nil {
			return fmt.Errorf("directory: apply seq %d (%s of %s %s): %w: %w", env.Sequence, env.Type, env.AggregateKind, env.AggregateID, ErrCorrupt, perr)
		}
	}
	d.last = env.Sequence
	return nil
}

var errUnknownAggregate = errors.New("the aggregate was never created")

// apply changes the state for one event of an owned kind. It checks
// everything that can fail before it changes anything.
func (d *Directory) apply(env *events.Envelope, p events.Payload) error {
	id := env.AggregateID
	switch e := p.(type) {
	case events.UserCreated:
		if d.users[id] != nil {
			return errors.New("a second user.created")
		}
		u := &User{ID: id, IntID: env.Sequence, Username: e.Username, Email: e.Email, Name: e.Name, RootRole: e.RootRole, CreatedAt: env.Time}
		d.users[id] = u
		d.userSeq[u.IntID] = u
		d.userOrder = append(d.userOrder, u)
		if u.Username != "" {
			d.byUsername[u.Username] = append(d.byUsername[u.Username], u)
		}
		if u.Email != "" {
			k := strings.ToLower(u.Email)
			d.byEmail[k] = append(d.byEmail[k], u)
		}
	case events.UserRoleChanged:
		u := d.users[id]
		if u == nil {
			return errUnknownAggregate
		}
		u.RootRole = e.RootRole
	case events.UserDeleted:
		u := d.users[id]
		if u == nil {
			return errUnknownAggregate
		}
		u.Deleted = true
		d.dropMember(events.Owner{Kind: events.ActorUser, ID: id})

	case events.ServiceAccountCreated:
		if d.accounts[id] != nil {
			return errors.New("a second serviceaccount.created")
		}
		a := &ServiceAccount{ID: id, IntID: env.Sequence, Name: e.Name, Username: e.Username, RootRole: e.RootRole, CreatedAt: env.Time}
		d.accounts[id] = a
		d.accountSeq[a.IntID] = a
		d.accountOrder = append(d.accountOrder, a)
	case events.ServiceAccountUpdated:
		a := d.accounts[id]
		if a == nil {
			return errUnknownAggregate
		}
		a.Name, a.RootRole = e.Name, e.RootRole
	case events.ServiceAccountDeleted:
		a := d.accounts[id]
		if a == nil {
			return errUnknownAggregate
		}
		a.Deleted = true
		d.dropMember(events.Owner{Kind: events.ActorServiceAccount, ID: id})

	case events.RoleCreated:
		if d.roles[id] != nil {
			return errors.New("a second role.created")
		}
		r := &Role{ID: id, IntID: env.Sequence, Name: e.Name, Type: e.Type, Description: e.Description,
			Permissions: slices.Clone(e.Permissions), CreatedAt: env.Time}
		d.roles[id] = r
		d.roleSeq[r.IntID] = r
		d.roleOrder = append(d.roleOrder, r)
	case events.RoleUpdated:
		r := d.roles[id]
		if r == nil {
			return errUnknownAggregate
		}
		r.Name, r.Description, r.Permissions = e.Name, e.Description, slices.Clone(e.Permissions)
	case events.RoleDeleted:
		r := d.roles[id]
		if r == nil {
			return errUnknownAggregate
		}
		r.Deleted = true

	case events.ProjectCreated:
		// A deleted project's id may be created again (the stream is the
		// truth; the ledger's commands refuse to reuse ids today).
		if p := d.projects[id]; p != nil && !p.Deleted {
			return errors.New("a second project.created for a live project")
		}
		d.projects[id] = &Project{ID: id, Name: e.Name, Description: e.Description, CreatedAt: env.Time, Members: map[events.Owner]string{}}
	case events.ProjectUpdated:
		p := d.projects[id]
		if p == nil {
			return errUnknownAggregate
		}
		p.Name, p.Description = e.Name, e.Description
	case events.ProjectDeleted:
		p := d.projects[id]
		if p == nil {
			return errUnknownAggregate
		}
		p.Deleted = true
	case events.ProjectMemberAdded:
		p := d.projects[id]
		if p == nil {
			return errUnknownAggregate
		}
		p.Members[e.Member] = e.Role
	case events.ProjectMemberRemoved:
		p := d.projects[id]
		if p == nil {
			return errUnknownAggregate
		}
		delete(p.Members, e.Member)

	case events.EnvironmentCreated:
		// A deleted environment's name may be created again (the stream is
		// the truth; the ledger's commands refuse to reuse names today).
		if d.envs[id] != nil {
			return errors.New("a second environment.created for a live environment")
		}
		d.envs[id] = &Environment{Name: id, Type: e.Type, CreatedAt: env.Time}
	case events.EnvironmentUpdated:
		en := d.envs[id]
		if en == nil {
			return errUnknownAggregate
		}
		en.Type = e.Type
	case events.EnvironmentDeleted:
		// Dropped, not marked: no lookup returns a deleted environment, so
		// no token can be created in it.
		if d.envs[id] == nil {
			return errUnknownAggregate
		}
		delete(d.envs, id)

	default:
		return fmt.Errorf("event type %s is not handled", env.Type)
	}
	return nil
}

// dropMember ends every project membership of m.
func (d *Directory) dropMember(m events.Owner) {
	for _, p := range d.projects {
		delete(p.Members, m)
	}
}

// User returns the user with aggregate id id, deleted or not.
func (d *Directory) User(id string) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if u := d.users[id]; u != nil {
		return *u, true
	}
	return User{}, false
}

// UserByIntID returns the user whose user.created is at stream sequence n,
// deleted or not.
func (d *Directory) UserByIntID(n uint64) (User, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if u := d.userSeq[n]; u != nil {
		return *u, true
	}
	return User{}, false
}

// UserByLogin returns the live user whose username is login (exactly) or,
// failing that, whose e-mail is login compared case-insensitively. Neither
// is unique in the ledger: of several matches the oldest (lowest IntID)
// wins.
func (d *Directory) UserByLogin(login string) (User, bool) {
	if login == "" {
		return User{}, false
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, u := range d.byUsername[login] {
		if !u.Deleted {
			return *u, true
		}
	}
	for _, u := range d.byEmail[strings.ToLower(login)] {
		if !u.Deleted {
			return *u, true
		}
	}
	return User{}, false
}

// Users returns the live users, by IntID.
func (d *Directory) Users() []User {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]User, 0, len(d.userOrder))
	for _, u := range d.userOrder {
		if !u.Deleted {
			out = append(out, *u)
		}
	}
	return out
}

// ServiceAccount returns the service account with aggregate id id, deleted
// or not.
func (d *Directory) ServiceAccount(id string) (ServiceAccount, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if a := d.accounts[id]; a != nil {
		return *a, true
	}
	return ServiceAccount{}, false
}

// ServiceAccountByIntID returns the service account whose
// serviceaccount.created is at stream sequence n, deleted or not.
func (d *Directory) ServiceAccountByIntID(n uint64) (ServiceAccount, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if a := d.accountSeq[n]; a != nil {
		return *a, true
	}
	return ServiceAccount{}, false
}

// ServiceAccounts returns the live service accounts, by IntID.
func (d *Directory) ServiceAccounts() []ServiceAccount {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]ServiceAccount, 0, len(d.accountOrder))
	for _, a := range d.accountOrder {
		if !a.Deleted {
			out = append(out, *a)
		}
	}
	return out
}

func (r *Role) clone() Role {
	c := *r
	c.Permissions = slices.Clone(r.Permissions)
	return c
}

// Role returns the custom role with aggregate id id, deleted or not.
func (d *Directory) Role(id string) (Role, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.roles[id]; r != nil {
		return r.clone(), true
	}
	return Role{}, false
}

// RoleByIntID returns the custom role whose role.created is at stream
// sequence n, deleted or not.
func (d *Directory) RoleByIntID(n uint64) (Role, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if r := d.roleSeq[n]; r != nil {
		return r.clone(), true
	}
	return Role{}, false
}

// RoleByName returns the live custom role named name (exactly); of several
// the oldest wins.
func (d *Directory) RoleByName(name string) (Role, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, r := range d.roleOrder {
		if !r.Deleted && r.Name == name {
			return r.clone(), true
		}
	}
	return Role{}, false
}

// Roles returns the live custom roles, by IntID.
func (d *Directory) Roles() []Role {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Role, 0, len(d.roleOrder))
	for _, r := range d.roleOrder {
		if !r.Deleted {
			out = append(out, r.clone())
		}
	}
	return out
}

func (p *Project) clone() Project {
	c := *p
	c.Members = maps.Clone(p.Members)
	if c.Members == nil {
		c.Members = map[events.Owner]string{}
	}
	return c
}

// Project returns the project with id id, deleted or not.
func (d *Directory) Project(id string) (Project, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if p := d.projects[id]; p != nil {
		return p.clone(), true
	}
	return Project{}, false
}

// Projects returns the live projects, sorted by id.
func (d *Directory) Projects() []Project {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Project, 0, len(d.projects))
	for _, id := range slices.Sorted(maps.Keys(d.projects)) {
		if p := d.projects[id]; !p.Deleted {
			out = append(out, p.clone())
		}
	}
	return out
}

// ProjectRoles returns the project roles member holds: project id → role,
// for live projects only. The map is empty (not nil) when there are none.
func (d *Directory) ProjectRoles(member events.Owner) map[string]string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := map[string]string{}
	for id, p := range d.projects {
		if r, ok := p.Members[member]; ok && !p.Deleted {
			out[id] = r
		}
	}
	return out
}

// Environment returns the live environment named name; a deleted one is
// not found.
func (d *Directory) Environment(name string) (Environment, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if e := d.envs[name]; e != nil {
		return *e, true
	}
	return Environment{}, false
}

// Environments returns every live environment, sorted by name.
func (d *Directory) Environments() []Environment {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Environment, 0, len(d.envs))
	for _, name := range slices.Sorted(maps.Keys(d.envs)) {
		out = append(out, *d.envs[name])
	}
	return out
}
