package events

import (
	"encoding/json"

	"fmt"
	fastjson "github.com/goccy/go-json"
	"sort"
	"time"
)

// Payload is the type-specific data of an event. Each payload type has one
// wire name, one aggregate kind and a current schema version.
type Payload interface {
	EventType() string
	AggregateKind() string
	SchemaVersion() int
}

type decoder func(json.RawMessage) (Payload, error)

// registry maps event type → schema version → decoder. It is filled by the
// register calls in this package's init functions and never changed after.
var registry = map[string]map[int]decoder{}

// register makes version v of type T decodable. The current version of T is
// registered with a plain JSON decoder; older versions pass an upcaster.
func register[T Payload](v int, up func(json.RawMessage) (T, error)) {
	var zero T
	typ := zero.EventType()
	if registry[typ] == nil {
		registry[typ] = map[int]decoder{}
	}
	if up == nil {
		up = func(raw json.RawMessage) (T, error) {
			var p T
			err := fastjson.UnmarshalOf(raw, &p) // p stays off the heap until boxed
			return p, err
		}
	}
	registry[typ][v] = func(raw json.RawMessage) (Payload, error) { return up(raw) }
}

// Types lists every registered event type, sorted.
func Types() []string {
	out := make([]string, 0, len(registry))
	for t := range registry {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Versions lists the decodable schema versions of an event type, sorted.
func Versions(eventType string) []int {
	var out []int
	for v := range registry[eventType] {
		out = append(out, v)
	}
	sort.Ints(out)
	return out
}

// Payload decodes Data according to Type and Version. It returns
// ErrUnknownType or ErrUnknownVersion (wrapped) when this build cannot
// decode the event; it never panics on bad input. Envelopes from
// [Unmarshal] return the payload decoded there. Callers must not change
// Data of an envelope they already asked for its payload.
func (e *Envelope) Payload() (Payload, error) {
	if e.payload != nil {
		return e.payload, nil
	}
	return e.decodePayload()
}

func (e *Envelope) decodePayload() (Payload, error) {
	versions, ok := registry[e.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownType, e.Type)
	}
	dec, ok := versions[e.Version]
	if !ok {
		return nil, fmt.Errorf("%w: %s v%d", ErrUnknownVersion, e.Type, e.Version)
	}
	p, err := dec(e.Data)
	if err != nil {
		return nil, fmt.Errorf("decode %s v%d: %w", e.Type, e.Version, err)
	}
	return p, nil
}

// New wraps a payload in an envelope for aggregate id. Time, actor, via and
// the hash chain are the caller's to fill before [Envelope.Seal].
func New(id, aggregateID string, p Payload, at time.Time) (Envelope, error) {
	data, err := json.Marshal(p)
	if err != nil {
		return Envelope{}, fmt.Errorf("encode %s: %w", p.EventType(), err)
	}
	return Envelope{
		ID:            id,
		Type:          p.EventType(),
		Version:       p.SchemaVersion(),
		AggregateKind: p.AggregateKind(),
		AggregateID:   aggregateID,
		Time:          at.UTC(),
		Data:          data,
	}, nil
}
