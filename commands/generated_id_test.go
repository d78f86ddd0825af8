package commands_test

import (
	"context"
	"sync"
	"testing"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/jsstore"
	"github.com/tokenledger/tokenledger/internal/natstest"
)

// loadRecorder is a real store that records which aggregates were read.
type loadRecorder struct {
	commands.EventStore
	mu    sync.Mutex
	loads map[string]int // "<kind>/<id>" → reads
}

func (s *loadRecorder) record(kind, id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads[kind+"/"+id]++
}

func (s *loadRecorder) reads(kind, id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[kind+"/"+id]
}

func (s *loadRecorder) Load(ctx context.Context, kind, id string) ([]events.Envelope, error) {
	s.record(kind, id)
	return s.EventStore.Load(ctx, kind, id)
}

func (s *loadRecorder) LoadAfter(ctx context.Context, kind, id string, after uint64) ([]events.Envelope, error) {
	s.record(kind, id)
	return s.EventStore.LoadAfter(ctx, kind, id, after)
}

// A create whose aggregate id the handler generates (a fresh UUIDv7) does
// not read the aggregate from the store: nothing can be stored under an id
// that did not exist a moment ago, and the append still expects the
// aggregate absent. A create of a given id (a retry under an idempotency
// key, an import) still reads it, to recognise a replay or refuse a
// duplicate.
func TestCreateOfAGeneratedIDDoesNotReadTheAggregate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), handlerTimeout)
	defer cancel()
	st, err := jsstore.Open(ctx, natstest.Connect(t, natstest.RunServer(t)), jsstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	rec := &loadRecorder{EventStore: st, loads: map[string]int{}}
	h := newTestHandler(rec)

	token := func(id string) (string, error) {
		c, err := h.CreateToken(ctx, meta(""), commands.CreateToken{TokenID: id, Type: events.TokenBackend, Name: "t-" + id,
			Environment: "development", Projects: []string{"default"}, Path: events.PathAdminAPI})
		return c.TokenID, err
	}
	user := func(id string) (string, error) {
		id, _, err := h.CreateUser(ctx, meta(""), commands.CreateUser{UserID: id, Username: "u-" + id, RootRole: "Viewer"})
		return id, err
	}
	for _, tc := range []struct {
		name   string
		kind   string
		create func(id string) (string, error)
	}{
		{"token", events.KindToken, token},
		{"user", events.KindUser, user},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, err := tc.create("")
			if err != nil {
				t.Fatal(err)
			}
			if n := rec.reads(tc.kind, id); n != 0 {
				t.Errorf("the create of the generated %s %s read it %d times, want 0", tc.kind, id, n)
			}
			given := tc.name + "-given"
			if _, err := tc.create(given); err != nil {
				t.Fatal(err)
			}
			if n := rec.reads(tc.kind, given); n == 0 {
				t.Errorf("the create of the given %s %s did not read it", tc.kind, given)
			}
			if _, err := tc.create(given); err == nil {
				t.Errorf("a second create of %s %s succeeded", tc.kind, given)
			}
		})
	}
}
