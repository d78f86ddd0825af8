package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"errors"
	"fmt"
	fastjson "github.com/goccy/go-json"
	"strings"
	"time"
)

// Aggregate kinds: the second token of every subject.
const (
	KindToken          = "token"
	KindUser           = "user"
	KindServiceAccount = "serviceaccount"
	KindRole           = "role"
	KindProject        = "project"
	KindEnvironment    = "environment"
	KindBootstrap      = "bootstrap"
)

// SubjectPrefix is the first token of every ledger subject.
const SubjectPrefix = "ledger"

// Actor kinds: who caused an event.
const (
	ActorUser           = "user"
	ActorServiceAccount = "service-account"
	ActorAdminToken     = "admin-token"
	ActorSystem         = "system"
)

// Actor is who caused an event. ID is the user's or service account's id,
// the admin token's id, or "system".
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// System is the actor of events the ledger causes itself (bootstrap
// imports, the expiry scheduler).
var System = Actor{Kind: ActorSystem, ID: "system", Name: "system"}

// Via is the credential and channel through which the actor acted. It never
// holds a secret: CredentialID is the token's public id.
type Via struct {
	CredentialID   string `json:"credentialId,omitempty"`
	CredentialType string `json:"credentialType,omitempty"` // a token type, "auth-proxy" or "internal"
	RemoteAddr     string `json:"remoteAddr,omitempty"`
	UserAgent      string `json:"userAgent,omitempty"`
	RequestID      string `json:"requestId,omitempty"`
}

// Envelope is one event as it is stored in the stream. The field order and
// JSON names are the wire format; see the package doc before adding a field.
type Envelope struct {
	Format        int             `json:"fmt,omitempty"` // canonical form of Hash: 0/1 Go's encoding, 2 RFC 8785 (see FormatJCS)
	ID            string          `json:"id"`            // ULID
	Type          string          `json:"type"`          // e.g. "token.revoked"
	Version       int             `json:"v"`             // schema version of Data
	AggregateKind string          `json:"kind"`
	AggregateID   string          `json:"aggregate"`
	Time          time.Time       `json:"time"` // UTC, set by the ledger
	CommandID     string          `json:"command,omitempty"`
	Actor         Actor           `json:"actor"`
	Via           Via             `json:"via"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data"`
	Prev          string          `json:"prev,omitempty"` // Hash of the aggregate's previous event
	Hash          string          `json:"hash,omitempty"` // hex SHA-256 of the canonical bytes
	Key           string          `json:"key,omitempty"`  // ID of the ledger key that signed Hash (format 2)
	Sig           string          `json:"sig,omitempty"`  // base64 Ed25519 signature over Hash (format 2)

	// Sequence is the stream sequence, known once the event is stored. It
	// is not part of the encoded event (the stream assigns it).
	Sequence uint64 `json:"-"`

	// payload caches the decoded Data (see Unmarshal); unexported, so it is
	// never encoded and never hashed.
	payload Payload
	// stored is the bytes Unmarshal decoded (see Stored).
	stored []byte
	// sealedKey is the Key that Hash was computed with by SealFor, so
	// that Sign by that key does not hash the event again; "" otherwise.
	sealedKey string
	// recordHash is a digest of stored computed ahead (see SetRecordHash).
	recordHash    [32]byte
	hasRecordHash bool
}

// Errors returned by the codec.
var (
	// ErrUnknownType is returned when decoding a payload whose event type is
	// not registered.
	ErrUnknownType = errors.New("unknown event type")
	// ErrUnknownVersion is returned for a registered type with a schema
	// version this build cannot decode.
	ErrUnknownVersion = errors.New("unknown event schema version")
	// ErrBadHash is returned when an event's Hash does not match its bytes,
	// or its Prev does not match the previous event's Hash.
	ErrBadHash = errors.New("event hash mismatch")
)

// Subject is the stream subject of an event of the given aggregate.
func Subject(kind, id, eventType string) string {
	return SubjectPrefix + "." + kind + "." + id + "." + EventName(eventType)
}

// AggregateFilter is the subject filter covering every event of one
// aggregate; it is the filter of the optimistic-concurrency check.
func AggregateFilter(kind, id string) string {
	return SubjectPrefix + "." + kind + "." + id + ".*"
}

// EventName is the last subject token of an event type: the part after the
// first dot ("token.expiry-changed" → "expiry-changed").
func EventName(eventType string) string {
	if i := strings.IndexByte(eventType, '.'); i >= 0 {
		return eventType[i+1:]
	}
	return eventType
}

// Subject is the stream subject of this event.
func (e *Envelope) Subject() string { return Subject(e.AggregateKind, e.AggregateID, e.Type) }

// canonical returns the bytes the hash is computed over: for format 2 the
// RFC 8785 form of the envelope without hash and sig (see canonicalJCS),
// for format 1 the JSON encoding with Hash left out.
func (e *Envelope) canonical() ([]byte, error) {
	if e.Format >= FormatJCS {
		return e.canonicalJCS()
	}
	c := *e
	c.Hash, c.Sig = "", ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&c); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

func (e *Envelope) computeHash() (string, error) {
	if e.Format >= FormatJCS {
		if h, ok := e.fastHash(); ok {
			return h, nil
		}
	}
	b, err := e.canonical()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Seal makes the event a format-2 event ([FormatJCS]), normalises Time to
// UTC and every string to valid UTF-8 (see [Envelope.Clean]), and sets Hash
// over the canonical bytes. Call it after every other field is final; a
// previous signature is dropped ([Envelope.Sign] after Seal).
func (e *Envelope) Seal() error { return e.SealFor("") }

// SealFor is Seal for an event that the key keyID will sign: Key is set
// to keyID before the hash is computed (the hash covers Key), so that
// [Envelope.Sign] by that key signs this hash without computing it again.
// An empty keyID is Seal.
func (e *Envelope) SealFor(keyID string) error {
	e.stored, e.hasRecordHash = nil, false // no longer the bytes of this event
	e.Format = FormatJCS
	e.Time = e.Time.UTC()
	e.Key, e.Sig, e.sealedKey = keyID, "", ""
	e.Clean()
	h, err := e.computeHash()
	if err != nil {
		return fmt.Errorf("seal %s: %w", e.Type, err)
	}
	e.Hash, e.sealedKey = h, keyID
	return nil
}

// CheckHash reports ErrBadHash when Hash does not match the event's bytes.
// For an event [Unmarshal] decoded from the plain form the ledger writes
// (format 2, read by the [Scanner]: known members, no escapes, none twice)
// whose decoded members are the stored ones, the hash is checked once,
// over the stored bytes; for any other event both the fields' canonical
// bytes and, when stored, the stored object must match it.
func (e *Envelope) CheckHash() error {
	if e.stored != nil && e.Format >= FormatJCS {
		if sealed, ok := e.storedSealed(); ok {
			if !sealed {
				return fmt.Errorf("%w: event %s (seq %d)", ErrBadHash, e.ID, e.Sequence)
			}
			return nil
		}
	}
	h, err := e.computeHash()
	if err != nil {
		return err
	}
	if h != e.Hash && e.Format < FormatJCS {
		h, err = e.format1EscapedHash()
		if err != nil {
			return err
		}
	}
	if h != e.Hash {
		return fmt.Errorf("%w: event %s (seq %d)", ErrBadHash, e.ID, e.Sequence)
	}
	if e.stored != nil && e.Format >= FormatJCS {
		// The hash covers the stored object, not only what decoding kept
		// of it (an unknown, re-cased or duplicate member).
		if sh, err := storedHash(e.stored); err != nil || sh != e.Hash {
			return fmt.Errorf("%w: event %s (seq %d): its stored bytes are not the object it was sealed as", ErrBadHash, e.ID, e.Sequence)
		}
	}
	return nil
}

// storedSealed reads the stored bytes with a Scanner: ok when they are in
// the plain form and the members it reads are e's (what Unmarshal decoded
// from them), sealed when their canonical bytes hash to e.Hash.
func (e *Envelope) storedSealed() (sealed, ok bool) {
	s := scanners.Get().(*Scanner)
	defer scanners.Put(s)
	var f StoredFields
	if !s.Scan(e.stored, &f) {
		return false, false
	}
	if string(f.ID) != e.ID || string(f.Type) != e.Type || string(f.Kind) != e.AggregateKind || string(f.Aggregate) != e.AggregateID ||
		string(f.Prev) != e.Prev || string(f.Hash) != e.Hash || string(f.Key) != e.Key || string(f.Sig) != e.Sig {
		return false, false
	}
	return f.Sealed(), true
}

// VerifyChain checks that evs, the events of one aggregate in stream order,
// each hash correctly and each link to its predecessor.
func VerifyChain(evs []Envelope) error {
	prev := ""
	for i := range evs {
		if err := evs[i].CheckHash(); err != nil {
			return err
		}
		if evs[i].Prev != prev {
			return fmt.Errorf("%w: event %s (seq %d) links to %q, want %q", ErrBadHash, evs[i].ID, evs[i].Sequence, evs[i].Prev, prev)
		}
		prev = evs[i].Hash
	}
	return nil
}

// Marshal encodes the envelope for the stream.
func Marshal(e *Envelope) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("encode %s: %w", e.Type, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Unmarshal decodes an envelope read from the stream. It also decodes Data
// once, so that the several projections an event feeds do not each decode
// it again; a payload this build cannot decode is not an error here (the
// audit log records it raw) but is reported by [Envelope.Payload].
func Unmarshal(b []byte) (Envelope, error) {
	e, err := unmarshalEnvelope(b)
	if err != nil {
		return Envelope{}, err
	}
	e.payload, _ = e.decodePayload()
	return e, nil
}

// unmarshalEnvelope is Unmarshal without the payload.
func unmarshalEnvelope(b []byte) (Envelope, error) {
	var e Envelope
	// UnmarshalOf, not Unmarshal: e stays off the heap (a replay decodes
	// every event; the caller copies the result where it keeps it).
	if err := fastjson.UnmarshalOf(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("decode envelope: %w", err)
	}
	if e.Type == "" || e.AggregateKind == "" || e.AggregateID == "" {
		return Envelope{}, errors.New("decode envelope: type, kind and aggregate are required")
	}
	e.stored = b
	return e, nil
}
