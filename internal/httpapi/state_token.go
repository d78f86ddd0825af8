package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// GET /api/ledger/state/tokens/{id}?at=…: was this token valid at that
// moment, and why (not). Read from the token's own events (the stream's
// subject index) and, for orphaning, the events of its projects,
// environment and owner; no replay of the stream.

// Verdicts of a token at a moment.
const (
	verdictActive        = "active"
	verdictRevoked       = "revoked"
	verdictExpired       = "expired"
	verdictNotYetCreated = "not-yet-created"
	verdictOrphaned      = "orphaned"
)

// moment is a point of the ledger's history: the state after the event at
// Seq, judged at Time (expiries).
type moment struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}

// resolveAt reads at= (an RFC 3339 time, or a stream sequence: the state
// after that event; empty: now) as a moment. A time becomes the longest
// prefix of the stream at or before it (the audit log's time index); a
// sequence is judged at its event's time.
func (s *Server) resolveAt(v string) (moment, error) {
	switch {
	case v == "":
		return moment{Seq: s.audit.LastApplied(), Time: s.cmd.Now()}, nil
	case strings.Trim(v, "0123456789") == "":
		seq, err := parseSeq("at", v)
		if err != nil {
			return moment{}, err
		}
		if last := s.audit.LastApplied(); seq >= last {
			return moment{Seq: last, Time: s.cmd.Now()}, nil
		}
		t, ok := s.audit.TimeOf(seq)
		if !ok {
			t = s.cmd.Now()
		}
		return moment{Seq: seq, Time: t}, nil
	}
	t, err := parseTime("at", v)
	if err != nil {
		return moment{}, err
	}
	return moment{Seq: s.audit.SeqAt(t), Time: t.UTC()}, nil
}

// tokenVerdict is the answer of GET /api/ledger/state/tokens/{id}.
type tokenVerdict struct {
	ID     string `json:"id"`
	At     moment `json:"at"`
	Status string `json:"status"`
	Valid  bool   `json:"valid"`
	Why    string `json:"why"`
	// DecidedBy is the event that decided Status: the creation (active,
	// or not yet created: it came later), the revocation, the expiry's
	// setting, or the deletion that orphaned the token.
	DecidedBy *ledgerEvent `json:"decidedBy"`
	// Token is the token as it was (absent before its creation).
	Token *ledgerToken `json:"token,omitempty"`
}

func (s *Server) stateOfToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	if err := onlyOnce(q, "at"); err != nil {
		return err
	}
	at, err := s.resolveAt(q.Get("at"))
	if err != nil {
		return err
	}
	id, ok := s.stateTokenID(r.PathValue("id"))
	if !ok {
		return notFound("Could not find a token with that id")
	}
	evs, err := s.store.Load(r.Context(), events.KindToken, id)
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return notFound("Could not find a token with that id")
	}
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditAllowed, Format: "json"}); err != nil {
		return err
	}
	out, err := s.judgeToken(r.Context(), id, evs, at, !p.IsAdmin())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// stateTokenID resolves the path value of /api/ledger/state/tokens/{id}:
// a token's id (also of a revoked or deleted token, which the stream
// still holds), or the full secret of a token the ledger holds now. A
// value that cannot be an id (a secret of no current token, a wildcard,
// a dotted name) is not found, and is never handed to the store.
func (s *Server) stateTokenID(ref string) (string, bool) {
	if id := s.tokenRef(ref); id != ref {
		return id, true
	}
	if ref == "" || strings.ContainsAny(ref, ".*>:") || strings.IndexFunc(ref, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return "", false
	}
	return ref, true
}

// onlyOnce refuses a parameter not in known, and one given twice.
func onlyOnce(q url.Values, known ...string) error {
	for _, k := range slices.Sorted(maps.Keys(q)) {
		if !slices.Contains(known, k) {
			return badRequest(k, "unknown parameter "+strconv.Quote(trimParam(k)))
		}
		if len(q[k]) > 1 {
			return badRequest(k, k+" may be given once")
		}
	}
	return nil
}

// judgeToken decides the verdict of the token whose events are evs at at.
func (s *Server) judgeToken(ctx context.Context, id string, evs []events.Envelope, at moment, redact bool) (tokenVerdict, error) {
	out := tokenVerdict{ID: id, At: at}
	decided := func(status, why string, e *events.Envelope) {
		out.Status, out.Why, out.Valid = status, why, status == verdictActive
		if out.Token != nil { // as verification then answered
			out.Token.Status = map[string]string{verdictActive: tokenset.Valid.String(), verdictExpired: tokenset.Expired.String()}[status]
			if out.Token.Status == "" {
				out.Token.Status = tokenset.Revoked.String()
			}
		}
		if e != nil {
			le := toLedgerEvent(redacted(redact, auditlog.EntryOf(*e)))
			out.DecidedBy = &le
		}
	}
	n := 0
	for n < len(evs) && evs[n].Sequence <= at.Seq {
		n++
	}
	if n == 0 {
		decided(verdictNotYetCreated, fmt.Sprintf("created later, at sequence %d", evs[0].Sequence), &evs[0])
		return out, nil
	}
	set := tokenset.New()
	var expirySetter, revocation *events.Envelope
	for i := range evs[:n] {
		e := &evs[i]
		if err := set.Apply(*e); err != nil {
			return out, err
		}
		switch e.Type {
		case events.TypeTokenCreated, events.TypeTokenExpiryChanged:
			expirySetter = e
		case events.TypeTokenRevoked:
			if revocation == nil {
				revocation = e
			}
		}
	}
	t, ok := set.ByID(id)
	if !ok {
		return out, fmt.Errorf("httpapi: token %s: its events do not start with its creation", id)
	}
	lt := toLedgerToken(t, at.Time)
	out.Token = &lt
	if revocation != nil {
		decided(verdictRevoked, "revoked ("+t.RevokeReason+")", revocation)
		return out, nil
	}
	orphan, why, err := s.orphanedBy(ctx, t, evs[0].Sequence, at.Seq)
	if err != nil {
		return out, err
	}
	if orphan != nil {
		decided(verdictOrphaned, why, orphan)
		return out, nil
	}
	if t.ExpiredRecorded || !t.ExpiresAt.IsZero() && !at.Time.Before(t.ExpiresAt) {
		decided(verdictExpired, "expired at "+t.ExpiresAt.UTC().Format(time.RFC3339Nano), expirySetter)
		return out, nil
	}
	why = "created, not revoked, never expires"
	if !t.ExpiresAt.IsZero() {
		why = "created, not revoked, expires at " + t.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	decided(verdictActive, why, &evs[0])
	return out, nil
}

// orphanedBy finds the deletion, after the token's creation and at or
// before seq, of what the token acts for: its owner, its environment, or
// the last of all its projects. nil when none.
func (s *Server) orphanedBy(ctx context.Context, t tokenset.Token, created, seq uint64) (*events.Envelope, string, error) {
	deletion := func(kind, id, typ string) (*events.Envelope, error) {
		evs, err := s.store.Load(ctx, kind, id)
		if err != nil {
			return nil, err
		}
		for i := range evs {
			if evs[i].Type == typ && evs[i].Sequence > created && evs[i].Sequence <= seq {
				return &evs[i], nil
			}
		}
		return nil, nil
	}
	if o := t.Owner; o != nil {
		kind, typ := events.KindUser, events.TypeUserDeleted
		if o.Kind == events.ActorServiceAccount {
			kind, typ = events.KindServiceAccount, events.TypeServiceAccountDeleted
		}
		if e, err := deletion(kind, o.ID, typ); err != nil || e != nil {
			return e, "its owner " + o.Kind + " " + o.ID + " was deleted", err
		}
	}
	if t.Environment != "" && t.Environment != events.AllEnvironments {
		if e, err := deletion(events.KindEnvironment, t.Environment, events.TypeEnvironmentDeleted); err != nil || e != nil {
			return e, "its environment " + t.Environment + " was deleted", err
		}
	}
	if t.AllProjects || len(t.Projects) == 0 {
		return nil, "", nil
	}
	var last *events.Envelope
	for _, p := range t.Projects {
		e, err := deletion(events.KindProject, p, events.TypeProjectDeleted)
		if err != nil || e == nil {
			return nil, "", err
		}
		if last == nil || e.Sequence > last.Sequence {
			last = e
		}
	}
	return last, "every project of it was deleted (the last: " + last.AggregateID + ")", nil
}
