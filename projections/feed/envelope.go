package feed

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// Names of the feed on the server.
const (
	// Stream is the feed's stream, in the readers' account.
	Stream = "LEDGER_TOKENS"
	// Subjects is where the feed stores its token events
	// (ledger.token.<id>.<event>) and republishes their wake-ups. The
	// deletions the token set applies are on [DeletionSubjects].
	Subjects = "ledger.token.>"
	// LedgerSequenceHeader is the header of every feed event that holds
	// its sequence in the ledger stream.
	LedgerSequenceHeader = "Ledger-Sequence"
)

// DeletionSubjects are the subjects of the deletion events the feed
// carries besides the token events (ledger.<kind>.<id>.deleted for a
// project, an environment, a user and a service account): the token set
// stops accepting the tokens that act for what was deleted from the
// deletion's ledger sequence on, so a verifier must apply them in ledger
// order to reject those tokens when the ledger does. Their payloads are
// empty: the feed carries the deleted aggregate's id, never its data.
func DeletionSubjects() []string {
	return []string{"ledger.project.*.deleted", "ledger.environment.*.deleted", "ledger.user.*.deleted",
		"ledger.serviceaccount.*.deleted"}
}

// AllSubjects are every subject the feed stores events on (and
// republishes their wake-ups on): [Subjects] and [DeletionSubjects].
func AllSubjects() []string { return append([]string{Subjects}, DeletionSubjects()...) }

// IsDeletion reports whether an event of type typ is one of the deletions
// the feed carries besides the token events.
func IsDeletion(typ string) bool {
	switch typ {
	case events.TypeProjectDeleted, events.TypeEnvironmentDeleted, events.TypeUserDeleted,
		events.TypeServiceAccountDeleted:
		return true
	}
	return false
}

// Envelope is a token event (or a deletion, see [DeletionSubjects]) as the feed carries it: the stored envelope
// without the acting principal's personal data. It keeps what a service
// following tokens needs: the event (id, type, schema version, aggregate,
// time, data, the ledger's reason code and command id) and who acted as a
// kind and an id and through which credential (type and public id). It
// leaves out the actor's name and the request's remote address, user
// agent and request id; the hash chain (prev, hash), which is computed
// over the stored bytes and would not verify over these; and an admin
// token's verifier (its token.created carries "verifier": ""): admin
// tokens administer the ledger, no reader has a use for them, and their
// secrets are hand-chosen, so a verifier would be a target for offline
// guessing. An allow-list: a
// field added to [events.Envelope] does not reach readers until it is
// added here. Its JSON names are those of [events.Envelope].
type Envelope struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`
	Version       int             `json:"v"`
	AggregateKind string          `json:"kind"`
	AggregateID   string          `json:"aggregate"`
	Time          time.Time       `json:"time"`
	CommandID     string          `json:"command,omitempty"`
	Actor         Actor           `json:"actor"`
	Via           Via             `json:"via"`
	Reason        string          `json:"reason,omitempty"`
	Data          json.RawMessage `json:"data"`
}

// Actor is the acting principal of a feed event: its kind and id.
type Actor struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Via is the credential a feed event's actor used: its type and public id.
type Via struct {
	CredentialID   string `json:"credentialId,omitempty"`
	CredentialType string `json:"credentialType,omitempty"`
}

// NewEnvelope is env as the feed carries it.
func NewEnvelope(env *events.Envelope) Envelope {
	return Envelope{ID: env.ID, Type: env.Type, Version: env.Version, AggregateKind: env.AggregateKind,
		AggregateID: env.AggregateID, Time: env.Time, CommandID: env.CommandID,
		Actor:  Actor{Kind: env.Actor.Kind, ID: env.Actor.ID},
		Via:    Via{CredentialID: env.Via.CredentialID, CredentialType: env.Via.CredentialType},
		Reason: env.Reason, Data: payloadData(env)}
}

// payloadData is the event's payload re-encoded from its decoded form, so
// that only the payload type's own fields reach readers (bytes edited into
// a stored event's data do not), or the stored bytes when this build does
// not know the payload.
func payloadData(env *events.Envelope) json.RawMessage {
	p, err := env.Payload()
	if err != nil || p == nil {
		return env.Data
	}
	if c, ok := p.(events.TokenCreated); ok && c.TokenType == events.TokenAdmin {
		// An admin token is the ledger's own administration credential,
		// which no reader accepts, and its secret is hand-chosen
		// (INIT_ADMIN_API_TOKENS): its verifier would only let a reader
		// try guesses offline.
		c.Verifier = ""
		p = c
	}
	b, err := json.Marshal(p)
	if err != nil {
		return env.Data
	}
	return b
}

// Event is one token event as a reader receives it: its sequence in
// [Stream] (pass the last one handled + 1 to [Follow] to resume), its
// sequence in the ledger (LedgerSequence, for correlating with the
// ledger's X-Ledger-Sequence answers and audit log; the ledger's sequences
// have gaps where other events are), its subject and the [Envelope]
// encoded as JSON.
type Event struct {
	Sequence       uint64
	LedgerSequence uint64
	Subject        string
	Data           []byte
	// KeyID and Signature are the publisher's signature ([KeyHeader],
	// [SignatureHeader]; empty when the event carries none).
	KeyID, Signature string
	// Previous is the [PreviousHeader] ("" when the event carries none).
	Previous string
}

// ErrMalformed is returned (wrapped) by [Event.Envelope] for a feed event
// that is neither a token event nor a deletion of the ledger's form.
var ErrMalformed = errors.New("feed: malformed event")

// Envelope decodes e into the envelope the projections apply: the
// [Envelope]'s fields, the payload decoded, and Sequence set to the
// ledger sequence. It refuses (with [ErrMalformed]) an event without a
// ledger sequence, one that is neither a token event nor one of the
// deletions of [DeletionSubjects], or one whose subject is not its own
// (ledger.<kind>.<aggregate>.<event>). A payload this build
// cannot decode is not an error here; [events.Envelope.Payload] reports
// it.
func (e Event) Envelope() (events.Envelope, error) {
	if e.LedgerSequence == 0 {
		return events.Envelope{}, fmt.Errorf("%w: feed sequence %d has no %s", ErrMalformed, e.Sequence, LedgerSequenceHeader)
	}
	env, err := events.Unmarshal(e.Data)
	if err != nil {
		return events.Envelope{}, fmt.Errorf("%w: feed sequence %d: %w", ErrMalformed, e.Sequence, err)
	}
	if (env.AggregateKind != events.KindToken && !isDeletionOf(env.AggregateKind, env.Type)) || env.Subject() != e.Subject {
		return events.Envelope{}, fmt.Errorf("%w: feed sequence %d: a %s event of kind %q on subject %s", ErrMalformed, e.Sequence, env.Type, env.AggregateKind, e.Subject)
	}
	env.Sequence = e.LedgerSequence
	return env, nil
}

// isDeletionOf reports whether typ is the deletion event of kind that the
// feed carries.
func isDeletionOf(kind, typ string) bool {
	return IsDeletion(typ) && typ == kind+".deleted"
}
