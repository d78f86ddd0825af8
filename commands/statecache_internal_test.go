package commands

import (
	"fmt"
	"maps"
	"reflect"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// chain builds sealed, chained events of aggregate id at sequences 1, 3,
// 5, … (other aggregates' events between), the i-th with command id
// "c<seq>".
func chain(t *testing.T, id string, ps ...events.Payload) []events.Envelope {
	t.Helper()
	at := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	out := make([]events.Envelope, len(ps))
	prev := ""
	for i, p := range ps {
		e, err := events.New(fmt.Sprintf("01JEV0000000000000000000%02d", i), id, p, at)
		if err != nil {
			t.Fatal(err)
		}
		e.Sequence = uint64(2*i + 1)
		e.CommandID = fmt.Sprintf("c%d", e.Sequence)
		e.Prev = prev
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		out[i] = e
	}
	return out
}

// Folding a state further (what the cache does with the events stored
// since) gives the state a fold of the whole history gives, at every split
// point, for each aggregate kind whose fold edits a map in place or
// replaces slices.
func TestFoldInStepsEqualsFoldAtOnce(t *testing.T) {
	alice := events.Owner{Kind: events.ActorUser, ID: "u-alice"}
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	token := chain(t, "tok", events.TokenCreated{TokenType: events.TokenBackend, Environment: "development", Projects: []string{"a", "b"}},
		events.TokenExpiryChanged{New: &exp}, events.TokenScoped{Projects: []string{"a"}}, events.TokenExpired{ExpiresAt: exp},
		events.TokenExpiryChanged{}, events.TokenRevoked{Reason: events.ReasonDeleted})
	project := chain(t, "proj", events.ProjectCreated{Name: "P"}, events.ProjectMemberAdded{Member: alice, Role: events.RoleMember},
		events.ProjectUpdated{Name: "Q"}, events.ProjectMemberRemoved{Member: alice}, events.ProjectMemberAdded{Member: alice, Role: events.RoleOwner})
	name := chain(t, "n", events.NameClaimed{Scope: events.ScopeRoleName, Name: "x", Holder: alice}, events.NameReleased{},
		events.NameClaimed{Scope: events.ScopeRoleName, Name: "x", Holder: alice})
	for k := range len(token) + 1 {
		checkSteps(t, "token", FoldToken, token, k)
	}
	for k := range len(project) + 1 {
		checkSteps(t, "project", FoldProject, project, k)
	}
	for k := range len(name) + 1 {
		checkSteps(t, "name", FoldName, name, k)
	}
}

func checkSteps[S stateful[S]](t *testing.T, what string, fold func([]events.Envelope) (S, error), evs []events.Envelope, k int) {
	t.Helper()
	whole, err := fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := fold(evs[:k])
	if err != nil {
		t.Fatal(err)
	}
	kept := fmt.Sprintf("%+v", withoutCommands(prefix))
	steps, err := prefix.more(evs[k:])
	if err != nil {
		t.Fatalf("%s: more after %d events: %v", what, k, err)
	}
	if !reflect.DeepEqual(withoutCommands(steps), withoutCommands(whole)) {
		t.Errorf("%s split after %d events:\n got %+v\nwant %+v", what, k, steps, whole)
	}
	if again := fmt.Sprintf("%+v", withoutCommands(prefix)); again != kept {
		t.Errorf("%s: more changed the state it started from:\n was %s\n now %s", what, kept, again)
	}
	for i, e := range evs {
		_, inPrefix := prefix.base().Command(e.CommandID)
		_, inSteps := steps.base().Command(e.CommandID)
		if inPrefix != (i < k) || !inSteps {
			t.Errorf("%s split after %d: command %s seen by the prefix %v (want %v), by the whole %v", what, k, e.CommandID, inPrefix, i < k, inSteps)
		}
	}
}

// withoutCommands is s with its shared command set left out, for
// comparing states field by field.
func withoutCommands[S stateful[S]](s S) any {
	v := reflect.ValueOf(&s).Elem()
	agg := v.FieldByName("AggregateState")
	a := agg.Interface().(AggregateState)
	a.commands = nil
	agg.Set(reflect.ValueOf(a))
	if p, ok := any(s).(ProjectState); ok {
		p.Members = maps.Clone(p.Members) // compare contents, not the map
		return p
	}
	return s
}

// An event at or below the state's version is refused: folding it again
// would apply it twice.
func TestMoreRefusesAnEventTheStateHas(t *testing.T) {
	evs := chain(t, "tok", events.TokenCreated{TokenType: events.TokenBackend, Environment: "development", AllProjects: true},
		events.TokenRevoked{Reason: events.ReasonDeleted})
	s, err := FoldToken(evs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.more(evs[1:]); err == nil {
		t.Fatal("more folded an event the state already has")
	}
}

// The cache keeps at most its number of states and its budget of command
// ids, evicting the least recently used; a newer state is never replaced
// by an older one; a state heavier than the budget is not kept.
func TestStateCacheBounds(t *testing.T) {
	st := func(version uint64) TokenState { return TokenState{AggregateState: AggregateState{Version: version}} }
	k := func(id string) aggregateKey { return aggregateKey{kind: events.KindToken, id: id} }
	c := newStateCache(2, 10)
	c.put(k("a"), st(1), 1)
	c.put(k("b"), st(1), 1)
	if _, ok := c.get(k("a")); !ok { // a is now the most recent
		t.Fatal("a not cached")
	}
	c.put(k("c"), st(1), 1)
	if _, ok := c.get(k("b")); ok || c.len() != 2 {
		t.Fatalf("the least recently used state was kept (%d states)", c.len())
	}
	c.put(k("a"), st(5), 1)
	c.put(k("a"), st(3), 1)
	if s, _ := c.get(k("a")); s.(TokenState).Version != 5 {
		t.Fatalf("version %d replaced version 5", s.(TokenState).Version)
	}
	c.put(k("d"), st(1), 9) // 1 + 9 > 10: evicts c (least recent)
	if _, ok := c.get(k("c")); ok {
		t.Fatal("the command-id budget was exceeded")
	}
	c.put(k("e"), st(1), 11)
	if _, ok := c.get(k("e")); ok {
		t.Fatal("a state heavier than the whole budget was kept")
	}
	c.drop(k("a"))
	if _, ok := c.get(k("a")); ok {
		t.Fatal("a dropped state was kept")
	}
	if newStateCache(-1, 10) != nil {
		t.Fatal("a negative size made a cache")
	}
}
