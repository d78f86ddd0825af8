package events

import (
	"reflect"
	"testing"
	"time"
	"unsafe"
)

// The strings a projection may keep (an id in an index, an actor's name)
// must not keep the whole stored message alive: UnmarshalDeferred copies
// them, or gives the package's constant; only the fields that identify
// or seal the event, refer to the stored bytes.
func TestUnmarshalDeferredCopiesTheStringsProjectionsKeep(t *testing.T) {
	b := storedTokenEvent(t)
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

// storedTokenEvent is a sealed token event with every field a request
// fills, as the stream stores it.
func storedTokenEvent(tb testing.TB) []byte {
	tb.Helper()
	e, err := New("01J0000000000000000000000X", "0d6b1b8e-4c1f-4b7e-9a43-2f7e0e9c5a11",
		TokenRevoked{Reason: ReasonDeleted}, time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC))
	if err != nil {
		tb.Fatal(err)
	}
	e.CommandID, e.Reason = "2b7e0e9c-5a11-4c1f-9a43-0d6b1b8e4b7e", "a reason"
	e.Actor = Actor{Kind: ActorUser, ID: "5a110d6b-1b8e-4c1f-4b7e-9a432f7e0e9c", Name: "ada@example.com"}
	e.Via = Via{CredentialID: "9a432f7e-0e9c-5a11-0d6b-1b8e4c1f4b7e", CredentialType: TokenAdmin,
		RemoteAddr: "127.0.0.1:51234", UserAgent: "curl/8.5.0", RequestID: "01J00000000000000000000RQ1"}
	e.Prev = "3f1c0e7a9b2d4c6e8f0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e"
	if err := e.Seal(); err != nil {
		tb.Fatal(err)
	}
	b, err := Marshal(&e)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
