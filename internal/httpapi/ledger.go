package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Ledger-native routes: richer views than Unleash's closed schemas allow.
// They are for auditors and operators, so they need ADMIN.

func requireAdmin(p *authz.Principal) error {
	if !p.IsAdmin() {
		return forbidden("You don't have the necessary access [ADMIN] to perform this operation")
	}
	return nil
}

// ledgerEvent is one audit entry on the wire.
type ledgerEvent struct {
	Seq         uint64          `json:"seq"`
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Type        string          `json:"type"`
	Kind        string          `json:"kind"`
	AggregateID string          `json:"aggregateId"`
	Actor       events.Actor    `json:"actor"`
	Via         events.Via      `json:"via"`
	Reason      string          `json:"reason,omitempty"`
	Data        json.RawMessage `json:"data"`
	Version     int             `json:"v"`
	CommandID   string          `json:"command,omitempty"`
	Prev        string          `json:"prev,omitempty"`
	Hash        string          `json:"hash,omitempty"`
	// Format, Key and Sig: the stored form and the ledger's signature of
	// Hash (event format 2), so that a page or an export can be verified.
	Format int    `json:"fmt,omitempty"`
	Key    string `json:"key,omitempty"`
	Sig    string `json:"sig,omitempty"`
}

func toLedgerEvent(e auditlog.Entry) ledgerEvent {
	return ledgerEvent{Seq: e.Seq, ID: e.EventID, Time: e.Time.UTC(), Type: e.Type, Kind: e.Kind,
		AggregateID: e.AggregateID, Actor: e.Actor, Via: e.Via, Reason: e.Reason, Data: e.Data,
		Version: e.Version, CommandID: e.CommandID, Prev: e.Prev, Hash: e.Hash, Format: e.Format, Key: e.Key, Sig: e.Sig}
}

func parseTime(field, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil || !storableTime(t) {
		return time.Time{}, badRequest(field, field+" must be an RFC 3339 time between the years 0001 and 9999 in UTC")
	}
	return t, nil
}

func parseUint(field, v string) (uint64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, badRequest(field, field+" must be a non-negative integer")
	}
	return n, nil
}

// ledgerToken is a token with everything an auditor needs and no secret.
type ledgerToken struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Type        string        `json:"type"`
	Status      string        `json:"status"`
	Hint        string        `json:"hint"`
	Owner       *events.Owner `json:"owner,omitempty"`
	Environment string        `json:"environment,omitempty"`
	Projects    []string      `json:"projects,omitempty"`
	AllProjects bool          `json:"allProjects,omitempty"`
	ExpiresAt   *time.Time    `json:"expiresAt,omitempty"`
	CreatedAt   time.Time     `json:"createdAt"`
	CreatedBy   events.Actor  `json:"createdBy"`
	Path        string        `json:"path"`
	OnBehalfOf  bool          `json:"onBehalfOf,omitempty"`
	RevokedAt   *time.Time    `json:"revokedAt,omitempty"`
	Reason      string        `json:"revokeReason,omitempty"`
	Version     uint64        `json:"version"`
}

func toLedgerToken(t tokenset.Token, now time.Time) ledgerToken {
	out := ledgerToken{ID: t.ID, Name: t.Name, Type: t.Type, Status: t.StatusAt(now).String(), Hint: t.Hint,
		Owner: t.Owner, Environment: t.Environment, Projects: t.Projects, AllProjects: t.AllProjects,
		CreatedAt: t.CreatedAt.UTC(), CreatedBy: t.CreatedBy, Path: t.Path, OnBehalfOf: t.OnBehalfOf,
		Reason: t.RevokeReason, Version: t.Version}
	if !t.ExpiresAt.IsZero() {
		e := t.ExpiresAt.UTC()
		out.ExpiresAt = &e
	}
	if t.Revoked {
		ra := t.RevokedAt.UTC()
		out.RevokedAt = &ra
	}
	return out
}

func (s *Server) ledgerTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	done, err := s.longRead(w, p, longReadAnswer) // until the answer is written
	if err != nil {
		return err
	}
	defer done()
	release, err := s.heavyRead()
	if err != nil {
		return err
	}
	body := tokenListJSON(s.tokens, s.cmd.Now())
	release()
	writeJSONBytes(w, http.StatusOK, body)
	return nil
}

// tokenListJSON is the whole token list's answer, encoded: built while
// a whole-ledger read slot is held, written after it was released, so a
// client that does not read holds no slot (atk-r13).
func tokenListJSON(set *tokenset.Set, now time.Time) []byte {
	all := set.All()
	out := struct {
		LastApplied uint64        `json:"lastApplied"`
		Tokens      []ledgerToken `json:"tokens"`
	}{LastApplied: set.LastApplied(), Tokens: make([]ledgerToken, 0, len(all))}
	for _, t := range all {
		out.Tokens = append(out.Tokens, toLedgerToken(t, now))
	}
	return encodeJSON(out)
}

// tokenHistory: every event of one token, with the verdict of its hash chain.
func (s *Server) tokenHistory(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	if err := onlyOnce(r.URL.Query()); err != nil {
		return err
	}
	id := s.tokenRef(r.PathValue("id"))
	t, ok := s.tokens.ByID(id)
	if !ok {
		return notFound("Could not find a token with that id")
	}
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditAllowed, Format: "json"}); err != nil {
		return err
	}
	type chain struct {
		Intact bool   `json:"intact"`
		Events int    `json:"events"`
		Head   string `json:"head"`
		Error  string `json:"error,omitempty"`
	}
	out := struct {
		Token  ledgerToken   `json:"token"`
		Chain  chain         `json:"chain"`
		Events []ledgerEvent `json:"events"`
	}{Token: toLedgerToken(t, s.cmd.Now())}
	// The per-aggregate hash chain, checked against the stream itself.
	evs, err := s.store.Load(r.Context(), events.KindToken, id)
	if err != nil {
		return err
	}
	out.Chain = chain{Intact: true, Events: len(evs)}
	if len(evs) > 0 {
		out.Chain.Head = evs[len(evs)-1].Hash
	}
	if err := events.VerifyChain(evs); err != nil {
		out.Chain.Intact, out.Chain.Error = false, err.Error()
	}
	out.Events = make([]ledgerEvent, 0, len(evs))
	for _, e := range evs {
		out.Events = append(out.Events, toLedgerEvent(shownTo(p, auditlog.EntryOf(e))))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// stateAt: the token set as of a stream sequence (?seq=) or a moment
// (?at=RFC3339), rebuilt by a replay of the token events up to it.
func (s *Server) stateAt(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	q := r.URL.Query()
	if err := onlyOnce(q, "seq", "at"); err != nil {
		return err
	}
	seq, err := parseUint("seq", q.Get("seq"))
	if err != nil {
		return err
	}
	atValue := q.Get("at")
	if atValue != "" && strings.Trim(atValue, "0123456789") == "" {
		// at= also takes a stream sequence (the state after that event).
		if seq > 0 {
			return badRequest("seq", "give exactly one of seq (a stream sequence) or at (an RFC 3339 time or a sequence)")
		}
		if seq, err = parseSeq("at", atValue); err != nil {
			return err
		}
		atValue = ""
	}
	at, err := parseTime("at", atValue)
	if err != nil {
		return err
	}
	// A given time is a bound even when it is the zero time (year 1).
	atGiven := atValue != ""
	if seq > 0 == atGiven {
		return badRequest("seq", "give exactly one of seq (a stream sequence) or at (an RFC 3339 time)")
	}
	done, err := s.longRead(w, p, longReadAnswer) // until the answer is written
	if err != nil {
		return err
	}
	defer done()
	release, err := s.heavyRead()
	if err != nil {
		return err
	}
	held := true
	defer func() {
		if held {
			release()
		}
	}()
	if err := s.recordRead(w, r, p, events.AuditQueried{Outcome: events.AuditAllowed, Format: "json"}); err != nil {
		return err
	}
	var set *tokenset.Set
	switch {
	case seq > 0 && !atGiven:
		set, err = projections.AsOf(r.Context(), s.source, seq)
	case seq == 0 && atGiven:
		// The longest prefix of the stream at or before at (the audit
		// log's time index), then only the token set's subjects of it.
		set, err = projections.AsOf(r.Context(), s.source, s.audit.SeqAt(at))
	default:
		return badRequest("seq", "give exactly one of seq (a stream sequence) or at (an RFC 3339 time)")
	}
	if err != nil {
		return err
	}
	// Statuses as of that point: at the requested moment, or at the time of
	// the last event applied up to the requested sequence.
	now := at
	if !atGiven {
		now = s.cmd.Now()
		if t, ok := s.audit.TimeOf(set.LastApplied()); ok {
			now = t
		}
	}
	body := tokenListJSON(set, now)
	held = false
	release() // written after: a client that does not read holds no slot
	writeJSONBytes(w, http.StatusOK, body)
	return nil
}
