package events

import (
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// UnmarshalDeferred decodes into wireEnvelope: it must carry every
// encoded field of Envelope, with the same name, tag and kind of value.
func TestWireEnvelopeHasEnvelopesFields(t *testing.T) {
	env, wire := reflect.TypeFor[Envelope](), reflect.TypeFor[wireEnvelope]()
	var n int
	for i := range env.NumField() {
		f := env.Field(i)
		if !f.IsExported() || f.Tag.Get("json") == "-" {
			continue
		}
		n++
		w, ok := wire.FieldByName(f.Name)
		if !ok {
			t.Errorf("wireEnvelope has no %s", f.Name)
			continue
		}
		if w.Tag != f.Tag {
			t.Errorf("%s: tag %q, Envelope's %q", f.Name, w.Tag, f.Tag)
		}
		if w.Type != f.Type {
			t.Errorf("%s: type %v, Envelope's %v", f.Name, w.Type, f.Type)
		}
	}
	if n != wire.NumField() {
		t.Errorf("wireEnvelope has %d fields, Envelope encodes %d", wire.NumField(), n)
	}
}

// The strings a projection may keep (an id in an index, an actor's name)
// must not keep the whole stored message alive: UnmarshalDeferred copies
// them, or gives the package's constant; only the fields that identify
// or seal the event, and Data, refer to the stored bytes.
func TestUnmarshalDeferredCopiesTheStringsProjectionsKeep(t *testing.T) {
	e, err := New("01J0000000000000000000000X", "0d6b1b8e-4c1f-4b7e-9a43-2f7e0e9c5a11",
		TokenRevoked{Reason: ReasonDeleted}, time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	e.CommandID, e.Reason = "cmd-1", "a reason"
	e.Actor = Actor{Kind: ActorUser, ID: "user-7", Name: "Ada"}
	e.Via = Via{CredentialID: "cred-1", CredentialType: TokenAdmin, RemoteAddr: "127.0.0.1:1", UserAgent: "ua", RequestID: "rq"}
	if err := e.Seal(); err != nil {
		t.Fatal(err)
	}
	b, err := Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalDeferred(b)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	got.DecodePayload()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UnmarshalDeferred:\n%+v\nUnmarshal:\n%+v", got, want)
	}
	inB := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
		return len(s) > 0 && base <= p && p < base+uintptr(len(b))
	}
	for name, s := range map[string]string{
		"AggregateID": got.AggregateID, "Type": got.Type, "AggregateKind": got.AggregateKind,
		"Actor.Kind": got.Actor.Kind, "Actor.ID": got.Actor.ID, "Actor.Name": got.Actor.Name,
		"Via.CredentialID": got.Via.CredentialID, "Via.CredentialType": got.Via.CredentialType, "Reason": got.Reason,
	} {
		if inB(s) {
			t.Errorf("%s refers to the stored bytes", name)
		}
	}
	for name, s := range map[string]string{"ID": got.ID, "Hash": got.Hash, "Prev": got.Prev} {
		if len(s) > 0 && !inB(s) {
			t.Errorf("%s is a copy (the replay decodes it without one)", name)
		}
	}
}
