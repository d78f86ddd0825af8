package events_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

var update = flag.Bool("update", false, "rewrite the golden files of the current schema versions")

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 123456789, time.UTC)

func tp(t time.Time) *time.Time { return &t }

// samples holds one payload of every event type at its current version. A
// new event type must be added here; TestGolden_EveryTypeHasAGoldenFile
// fails until it is.
var samples = []events.Payload{
	events.TokenCreated{TokenType: events.TokenBackend, Name: "checkout-sdk", Environment: "production",
		Projects: []string{"checkout", "default"}, ExpiresAt: tp(t0.Add(90 * 24 * time.Hour)), Path: events.PathAdminAPI,
		Verifier: strings.Repeat("ab", 32), Hint: "[]:production.…9f3a"},
	events.TokenScoped{Projects: []string{"default"}, PreviousProjects: []string{"checkout", "default"}, Cause: "project-deleted:checkout"},
	events.TokenExpiryChanged{Previous: tp(t0.Add(90 * 24 * time.Hour)), New: tp(t0.Add(30 * 24 * time.Hour))},
	events.TokenExpired{ExpiresAt: t0.Add(30 * 24 * time.Hour)},
	events.TokenRevoked{Reason: events.ReasonCompromised},
	events.UserCreated{Username: "alice", Email: "alice@example.com", Name: "Alice", RootRole: events.RoleEditor},
	events.UserRoleChanged{RootRole: events.RoleAdmin, Previous: events.RoleEditor},
	events.UserDeleted{},
	events.ServiceAccountCreated{Name: "CI", Username: "ci-bot", RootRole: events.RoleViewer},
	events.ServiceAccountUpdated{Name: "CI pipeline", RootRole: "0193a5b2-0000-7000-8000-0000000000cc"},
	events.ServiceAccountDeleted{},
	events.RoleCreated{Name: "Token operator", Type: events.RoleTypeRoot, Description: "backend tokens only",
		Permissions: []string{"CREATE_CLIENT_API_TOKEN", "READ_CLIENT_API_TOKEN"}},
	events.RoleUpdated{Name: "Token operator", Permissions: []string{"READ_CLIENT_API_TOKEN"}},
	events.RoleDeleted{},
	events.ProjectCreated{Name: "Checkout", Description: "the checkout service"},
	events.ProjectUpdated{Name: "Checkout and Payments", Description: "checkout and payment services"},
	events.ProjectDeleted{},
	events.ProjectMemberAdded{Member: events.Owner{Kind: events.ActorUser, ID: "0193a5b2-0000-7000-8000-0000000000dd"}, Role: events.RoleMember},
	events.ProjectMemberRemoved{Member: events.Owner{Kind: events.ActorUser, ID: "0193a5b2-0000-7000-8000-0000000000dd"}},
	events.EnvironmentCreated{Type: "production"},
	events.EnvironmentUpdated{Type: "preproduction"},
	events.EnvironmentDeleted{},
	events.NameClaimed{Scope: events.ScopeUsername, Name: "alice", Holder: events.Owner{Kind: events.KindUser, ID: "0193a5b2-0000-7000-8000-0000000000dd"}},
	events.NameReleased{},
	events.AuditQueried{Route: "GET /api/ledger/events", Outcome: events.AuditAllowed, Format: "csv",
		Filters: map[string][]string{"type": {"token.revoked"}, "since": {"2026-11-01T00:00:00Z"}}},
	events.Checkpoint{Size: 41, Root: "n2jnDVaqdsnGlfK1y/3Ji8dOwwfrxDmZAW7rt8/4fP0=",
		Note: "tokenledger.example\n41\nn2jnDVaqdsnGlfK1y/3Ji8dOwwfrxDmZAW7rt8/4fP0=\n\n— tokenledger.example AAAAAA==\n"},
	events.KeyRotated{Previous: "tokenledger+0a1b2c3d+AW7UFxCPKuD2ZVEw0ixC2SMWR9b4d1nkFqSTSWeNIkPm",
		Key: "tokenledger+4e5f6a7b+AeZpsq1Rw1F2M0zVAqNppjqn7OSYsVpVNRQTLi46ngyx"},
}

func sampleEnvelope(t testing.TB, p events.Payload) events.Envelope {
	t.Helper()
	e, err := events.New("01JD0000000000000000000000", "0193a5b2-0000-7000-8000-000000000001", p, t0)
	if err != nil {
		t.Fatal(err)
	}
	e.CommandID = "cmd-1"
	e.Actor = events.Actor{Kind: events.ActorUser, ID: "7", Name: "alice@example.com"}
	e.Via = events.Via{CredentialID: "0193a5b2-0000-7000-8000-0000000000aa", CredentialType: events.TokenPersonal,
		RemoteAddr: "127.0.0.1:50000", UserAgent: "curl/8", RequestID: "req-1"}
	e.Reason = "rotation"
	e.Prev = strings.Repeat("cd", 32)
	if err := e.Seal(); err != nil {
		t.Fatal(err)
	}
	if err := e.Sign(goldenKey); err != nil {
		t.Fatal(err)
	}
	return e
}

// goldenPath is the golden file of the current envelope format (2,
// RFC 8785); the format-1 files (<type>.v<n>.golden.json) stay as recorded
// and must keep decoding and verifying.
func goldenPath(typ string, v int) string {
	return filepath.Join("testdata", fmt.Sprintf("%s.v%d.fmt2.golden.json", typ, v))
}

func TestGolden_CurrentVersionsEncodeAsRecorded(t *testing.T) {
	for _, p := range samples {
		t.Run(p.EventType(), func(t *testing.T) {
			e := sampleEnvelope(t, p)
			got, err := events.Marshal(&e)
			if err != nil {
				t.Fatal(err)
			}
			path := goldenPath(p.EventType(), p.SchemaVersion())
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("golden file missing (run go test ./events -update): %v", err)
			}
			if string(got) != strings.TrimSuffix(string(want), "\n") {
				t.Errorf("wire format changed for %s v%d:\n got %s\nwant %s", p.EventType(), p.SchemaVersion(), got, want)
			}
		})
	}
}

// Every golden file ever recorded must still decode: old versions stay
// readable forever.
func TestGolden_EveryRecordedVersionStillDecodes(t *testing.T) {
	files, err := filepath.Glob("testdata/*.golden.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			e, err := events.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.CheckHash(); err != nil {
				t.Fatalf("recorded hash no longer matches: %v", err)
			}
			if e.Format >= events.FormatJCS {
				if err := e.CheckSignature(goldenKey); err != nil {
					t.Fatalf("recorded signature no longer verifies: %v", err)
				}
			}
			p, err := e.Payload()
			if err != nil {
				t.Fatal(err)
			}
			if p.EventType() != e.Type {
				t.Fatalf("decoded %s as %s", e.Type, p.EventType())
			}
			if e.Actor.ID == "" || e.Via.CredentialID == "" || e.Time.IsZero() || e.Time.Location() != time.UTC {
				t.Fatalf("envelope lost fields: %+v", e)
			}
		})
	}
}

func TestGolden_EveryTypeHasAGoldenFile(t *testing.T) {
	for _, typ := range events.Types() {
		for _, v := range events.Versions(typ) {
			if _, err := os.Stat(goldenPath(typ, v)); err != nil {
				t.Errorf("%s v%d has no golden file", typ, v)
			}
		}
	}
	if len(samples) != len(events.Types()) {
		t.Errorf("samples has %d payloads, %d types are registered", len(samples), len(events.Types()))
	}
}

func TestPayload_RoundTripsEveryType(t *testing.T) {
	for _, p := range samples {
		e := sampleEnvelope(t, p)
		b, _ := events.Marshal(&e)
		d, err := events.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := d.Payload()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Errorf("%s: got %+v, want %+v", p.EventType(), got, p)
		}
	}
}

func TestPayload_UndecodableEventsAreErrorsNotPanics(t *testing.T) {
	tests := []struct {
		name string
		env  events.Envelope
		want error
	}{
		{"unknown_type", events.Envelope{Type: "token.teleported", Version: 1, Data: json.RawMessage(`{}`)}, events.ErrUnknownType},
		{"unknown_version", events.Envelope{Type: events.TypeTokenRevoked, Version: 99, Data: json.RawMessage(`{}`)}, events.ErrUnknownVersion},
		{"bad_data", events.Envelope{Type: events.TypeTokenRevoked, Version: 1, Data: json.RawMessage(`[1,2`)}, nil},
		{"null_data", events.Envelope{Type: events.TypeTokenCreated, Version: 1}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.env.Payload()
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if tt.want == nil && tt.name == "bad_data" && err == nil {
				t.Fatal("want an error for malformed data")
			}
		})
	}
}

func TestUnmarshal_RejectsEnvelopesWithoutIdentity(t *testing.T) {
	for _, in := range []string{`{}`, `{"type":"token.revoked"}`, `not json`, `{"type":"token.revoked","kind":"token"}`} {
		if _, err := events.Unmarshal([]byte(in)); err == nil {
			t.Errorf("Unmarshal(%s) accepted an envelope without type/kind/aggregate", in)
		}
	}
}

func TestVerifyChain(t *testing.T) {
	chain := make([]events.Envelope, 3)
	prev := ""
	for i := range chain {
		e, err := events.New(fmt.Sprintf("ev%d", i), "tok", samples[i], t0.Add(time.Duration(i)*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		e.Prev = prev
		if err := e.Seal(); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
		chain[i] = e
	}
	tamper := func(f func([]events.Envelope)) []events.Envelope {
		c := append([]events.Envelope(nil), chain...)
		f(c)
		return c
	}
	tests := []struct {
		name  string
		chain []events.Envelope
		ok    bool
	}{
		{"intact_chain", chain, true},
		{"changed_actor", tamper(func(c []events.Envelope) { c[1].Actor.Name = "mallory" }), false},
		{"changed_data", tamper(func(c []events.Envelope) { c[2].Data = json.RawMessage(`{"reason":"deleted"}`) }), false},
		{"event_removed", tamper(func(c []events.Envelope) { c[1] = c[2] }), false},
		{"reordered", []events.Envelope{chain[1], chain[0], chain[2]}, false},
		{"resealed_but_unlinked", tamper(func(c []events.Envelope) { c[1].Prev = ""; _ = c[1].Seal() }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := events.VerifyChain(tt.chain)
			if tt.ok != (err == nil) {
				t.Fatalf("VerifyChain = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok && !errors.Is(err, events.ErrBadHash) {
				t.Fatalf("want ErrBadHash, got %v", err)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	if got := events.Subject(events.KindToken, "abc", events.TypeTokenExpiryChanged); got != "ledger.token.abc.expiry-changed" {
		t.Errorf("Subject = %s", got)
	}
	if got := events.AggregateFilter(events.KindUser, "42"); got != "ledger.user.42.*" {
		t.Errorf("AggregateFilter = %s", got)
	}
}

func ExampleEnvelope_Payload() {
	raw := []byte(`{"id":"01JD0000000000000000000000","type":"token.revoked","v":1,"kind":"token","aggregate":"t1","time":"2026-11-24T12:00:00Z","actor":{"kind":"system","id":"system"},"via":{},"data":{"reason":"deleted"}}`)
	e, err := events.Unmarshal(raw)
	if err != nil {
		panic(err)
	}
	p, err := e.Payload()
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s by %s: %+v\n", e.Type, e.Actor.Kind, p)
	// Output: token.revoked by system: {Reason:deleted}
}
