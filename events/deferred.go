package events

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	fastjson "github.com/goccy/go-json"
)

// UnmarshalDeferred is [Unmarshal] without decoding Data: the payload is
// decoded by [Envelope.DecodePayload], or by the first call of
// [Envelope.Payload] on the envelope. A replay decodes the envelope on
// the goroutine that reads the stream and the payload on the one that
// applies the events, so that neither does all of the decoding. It
// accepts and refuses exactly what Unmarshal does, and the envelope it
// returns holds the same values.
//
// b must not be changed afterwards: the envelope keeps it ([Envelope.Stored])
// and, to spare a replay a dozen allocations an event, the strings that
// only identify or seal the event refer to it instead of copies (ID,
// CommandID, Prev, Hash, Key, Sig and Via's RemoteAddr, UserAgent and
// RequestID), and so does Data when b is in the plain form the ledger
// writes (Unmarshal's Data is a copy): keeping one of those alone keeps
// all of b. The strings a projection keeps are copies of their own as
// with Unmarshal (AggregateID, Actor's ID and Name, Via's CredentialID,
// Reason), or the package's constants (Type, AggregateKind, Actor.Kind
// and Via.CredentialType when they are one of the values this build
// writes).
func UnmarshalDeferred(b []byte) (Envelope, error) {
	var e Envelope
	if !plainEnvelope(b, &e) {
		e = Envelope{}
		if err := decodeDeferred(b, &e); err != nil {
			return Envelope{}, err
		}
	}
	if e.Type == "" || e.AggregateKind == "" || e.AggregateID == "" {
		return Envelope{}, errors.New("decode envelope: type, kind and aggregate are required")
	}
	e.Type, e.AggregateKind, e.AggregateID = own(e.Type), own(e.AggregateKind), strings.Clone(e.AggregateID)
	e.Actor = Actor{Kind: own(e.Actor.Kind), ID: own(e.Actor.ID), Name: own(e.Actor.Name)}
	e.Via.CredentialID, e.Via.CredentialType = strings.Clone(e.Via.CredentialID), own(e.Via.CredentialType)
	e.Reason = strings.Clone(e.Reason)
	e.stored = b
	return e, nil
}

// decodeDeferred decodes b into e with the JSON decoder, the strings
// referring to b: UnmarshalDeferred's way for a record plainEnvelope does
// not take.
func decodeDeferred(b []byte, e *Envelope) error {
	// UnmarshalOf, not Unmarshal: e stays off the heap.
	if err := fastjson.UnmarshalOf(b, e, fastjson.DecodeNoCopyString()); err != nil {
		return fmt.Errorf("decode envelope: %w", err)
	}
	return nil
}

// ownStrings are the values of an envelope's kind-like fields that this
// build writes, each as the package's constant (made on first use: the
// event types are registered by the package's init functions).
var ownStrings = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, s := range Types() {
		m[s] = s
	}
	for _, s := range []string{KindToken, KindUser, KindServiceAccount, KindRole, KindProject, KindEnvironment,
		KindBootstrap, KindAudit, KindLog, KindName,
		ActorUser, ActorServiceAccount, ActorAdminToken, ActorSystem, System.ID, System.Name,
		TokenClient, TokenBackend, TokenFrontend, TokenAdmin, TokenPersonal, TokenServiceAccount,
		"auth-proxy", "internal"} {
		m[s] = s
	}
	return m
})

// own is s as a string of its own: the package's constant when s is
// one of ownStrings, else a copy.
func own(s string) string {
	if c, ok := ownStrings()[s]; ok {
		return c
	}
	return strings.Clone(s)
}

// DecodePayload decodes Data once and keeps the result on the envelope,
// as [Unmarshal] does, so that Payload on it and on its later copies does
// not decode again. A payload this build cannot decode is kept as none:
// Payload reports the error. It does nothing when the payload was
// decoded already.
func (e *Envelope) DecodePayload() {
	if e.payload == nil {
		e.payload, _ = e.decodePayload()
	}
}
