package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/auditlog"
)

// Exports of the audit trail: every event a query matches (its cursors
// and windows included, no limit), streamed in chunks read from the stream
// so that memory stays flat, as NDJSON, CSV or OCSF. The set is fixed when
// the export starts: the header X-Ledger-Sequence-Range says which
// stream sequences it covers ("first-last"; events after last were
// appended while it ran and are not in it), or "0-0" when the window is
// empty.

// OCSFVersion is the OCSF schema version of format=ocsf.
const OCSFVersion = "1.3.0"

// exportChunk is how many events an export reads from the stream at once.
const exportChunk = 1000

// csvHeader is the CSV export's columns.
var csvHeader = []string{"seq", "id", "time", "type", "kind", "aggregate", "actor_kind", "actor_id", "actor_name",
	"credential_type", "credential_id", "remote_addr", "user_agent", "request_id", "reason", "data", "prev", "hash"}

func (s *Server) exportEvents(w http.ResponseWriter, r *http.Request, aq auditQuery, redact bool) error {
	q := aq.q
	from := max(q.FromSeq, 1)
	if q.After > 0 {
		from = max(from, q.After+1)
		if q.After == math.MaxUint64 {
			from = math.MaxUint64 // nothing is after the largest sequence
		}
	}
	through := s.audit.LastApplied()
	to := through
	if q.ToSeq > 0 {
		to = min(to, q.ToSeq)
	}
	if q.Before > 0 {
		to = min(to, q.Before-1)
	}
	// Fix the upper end now, so that the header is true of the body.
	q.ToSeq = to
	if to == 0 {
		q.ToSeq, q.FromSeq = 1, 2 // an empty window
	}
	rng := strconv.FormatUint(from, 10) + "-" + strconv.FormatUint(to, 10)
	if from > to {
		rng = "0-0" // an empty window: no sequence is 0
	}
	h := w.Header()
	h.Set("X-Ledger-Sequence-Range", rng)
	h.Set("Cache-Control", "no-store")
	var write func(auditlog.Entry) error
	bw := bufio.NewWriterSize(paced{w, http.NewResponseController(w), s.cfg.WriteTimeout}, 64<<10)
	switch aq.format {
	case "ndjson":
		h.Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		write = func(e auditlog.Entry) error { return enc.Encode(toLedgerEvent(redacted(redact, e))) }
	case "ocsf":
		h.Set("Content-Type", "application/x-ndjson")
		h.Set("X-OCSF-Version", OCSFVersion)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		write = func(e auditlog.Entry) error { return enc.Encode(toOCSF(redacted(redact, e))) }
	case "csv":
		h.Set("Content-Type", "text/csv; charset=utf-8")
		if err := writeCSVRecord(bw, csvHeader); err != nil {
			return err
		}
		write = func(e auditlog.Entry) error { return writeCSVRecord(bw, csvRow(redacted(redact, e))) }
	}
	w.WriteHeader(http.StatusOK)
	n := 0
	written := func() error {
		if n++; n%exportChunk == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
			if f, ok := w.(http.Flusher); ok {
				f.Flush()
			}
		}
		return nil
	}
	var err error
	if aq.format == "ndjson" {
		// The stored bytes are the line: no decoding, no encoding.
		var line []byte
		_, err = s.audit.ScanRaw(r.Context(), q, exportChunk, func(seq uint64, data []byte) error {
			var ok bool
			if redact {
				data = blankAdminVerifier(data)
			}
			if line, ok = ndjsonLine(line[:0], seq, data); !ok {
				return fmt.Errorf("httpapi: export: the event at sequence %d is not in the stored form this build reads", seq)
			}
			if _, err := bw.Write(line); err != nil {
				return err
			}
			return written()
		})
		if errors.Is(err, auditlog.ErrNoRawReader) && n == 0 {
			err = nil // one aggregate's events: decoded below
		} else {
			write = nil
		}
	}
	if write != nil {
		_, err = s.audit.Scan(r.Context(), q, exportChunk, func(e auditlog.Entry) error {
			if err := write(e); err != nil {
				return err
			}
			return written()
		})
	}
	if err != nil {
		// The status is sent: cut the body short so that the client sees
		// a broken transfer rather than a complete export.
		s.log.Error("audit export failed", "err", err, "events_written", n)
		panic(http.ErrAbortHandler)
	}
	return bw.Flush()
}

// ndjsonLine appends to dst the NDJSON line of a stored event: the
// stored object with the stream sequence first and "aggregate" named
// "aggregateId", as pages show it, then a newline. The stored envelope's
// members before "aggregate" (fmt, id, type, v, kind) are strings and numbers,
// so the first `,"aggregate":` is the member itself (a quote inside a
// string is escaped). ok is false for bytes not in that form.
func ndjsonLine(dst []byte, seq uint64, data []byte) ([]byte, bool) {
	const key = `,"aggregate":`
	i := bytes.Index(data, []byte(key))
	if len(data) < 2 || data[0] != '{' || i < 0 || data[len(data)-1] != '}' {
		return dst, false
	}
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, ',')
	dst = append(dst, data[1:i]...)
	dst = append(dst, `,"aggregateId":`...)
	dst = append(dst, data[i+len(key):]...)
	return append(dst, '\n'), true
}

// csvRow is one event as CSV cells, each safe from formula injection.
func csvRow(e auditlog.Entry) []string {
	row := []string{strconv.FormatUint(e.Seq, 10), e.EventID, e.Time.UTC().Format("2006-01-02T15:04:05.000000000Z07:00"),
		e.Type, e.Kind, e.AggregateID, e.Actor.Kind, e.Actor.ID, e.Actor.Name, e.Via.CredentialType, e.Via.CredentialID,
		e.Via.RemoteAddr, e.Via.UserAgent, e.Via.RequestID, e.Reason, string(e.Data), e.Prev, e.Hash}
	for i, c := range row {
		row[i] = csvCell(c)
	}
	return row
}

// writeCSVRecord writes one RFC 4180 record with every field quoted. A
// spreadsheet splits an unquoted field at its locale's list separator
// (";" in most of Europe, not the ","), so a client's text such as
// "Mozilla/5.0;=1+1" would start a new cell holding a formula there,
// past csvCell's check of the field's first character; a quoted field is
// one cell whatever the separator.
func writeCSVRecord(w *bufio.Writer, cells []string) error {
	for i, c := range cells {
		if i > 0 {
			_ = w.WriteByte(',')
		}
		_ = w.WriteByte('"')
		_, _ = w.WriteString(strings.ReplaceAll(c, `"`, `""`))
		_ = w.WriteByte('"')
	}
	// A bufio.Writer's error is sticky: the last write reports any.
	_, err := w.WriteString("\r\n")
	return err
}

// csvCell neutralises a cell a spreadsheet would read as a formula (OWASP
// CSV injection): one starting with = + - @, a tab or a carriage return
// gets a leading apostrophe.
func csvCell(c string) string {
	if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
		return "'" + c
	}
	return c
}

// ocsfEvent is one event in OCSF: API Activity (6003) for token and
// catalogue events, Account Change (3001) for users and service
// accounts. What OCSF has no place for (the sequence, the payload, the hash
// chain) is under unmapped.
type ocsfEvent struct {
	ActivityID   int            `json:"activity_id"`
	ActivityName string         `json:"activity_name"`
	CategoryUID  int            `json:"category_uid"`
	CategoryName string         `json:"category_name"`
	ClassUID     int            `json:"class_uid"`
	ClassName    string         `json:"class_name"`
	TypeUID      int            `json:"type_uid"`
	SeverityID   int            `json:"severity_id"`
	Severity     string         `json:"severity"`
	StatusID     int            `json:"status_id"`
	Status       string         `json:"status"`
	Time         int64          `json:"time"`
	Message      string         `json:"message"`
	Metadata     ocsfMetadata   `json:"metadata"`
	Actor        ocsfActor      `json:"actor"`
	API          *ocsfAPI       `json:"api,omitempty"`
	SrcEndpoint  ocsfEndpoint   `json:"src_endpoint"`
	User         *ocsfUser      `json:"user,omitempty"`
	Resources    []ocsfResource `json:"resources,omitempty"`
	Unmapped     ocsfUnmapped   `json:"unmapped"`
}

type ocsfMetadata struct {
	Version        string      `json:"version"`
	UID            string      `json:"uid"`
	CorrelationUID string      `json:"correlation_uid,omitempty"`
	LoggedTime     int64       `json:"logged_time"`
	Product        ocsfProduct `json:"product"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
}

type ocsfActor struct {
	User    ocsfUser     `json:"user"`
	Session *ocsfSession `json:"session,omitempty"`
}

type ocsfUser struct {
	UID    string `json:"uid"`
	Name   string `json:"name,omitempty"`
	Type   string `json:"type,omitempty"`
	TypeID int    `json:"type_id"`
}

type ocsfSession struct {
	UID           string `json:"uid,omitempty"`
	CredentialUID string `json:"credential_uid,omitempty"`
}

type ocsfAPI struct {
	Operation string       `json:"operation"`
	Request   *ocsfRequest `json:"request,omitempty"`
	Service   ocsfService  `json:"service"`
}

type ocsfRequest struct {
	UID string `json:"uid"`
}

type ocsfService struct {
	Name string `json:"name"`
}

type ocsfEndpoint struct {
	IP   string `json:"ip,omitempty"`
	Port int    `json:"port,omitempty"`
	Name string `json:"name,omitempty"`
}

type ocsfResource struct {
	UID  string `json:"uid"`
	Type string `json:"type"`
}

type ocsfUnmapped struct {
	Seq            uint64          `json:"seq"`
	Type           string          `json:"type"`
	Reason         string          `json:"reason,omitempty"`
	CredentialType string          `json:"credential_type,omitempty"`
	UserAgent      string          `json:"user_agent,omitempty"`
	Data           json.RawMessage `json:"data"`
	Prev           string          `json:"prev,omitempty"`
	Hash           string          `json:"hash,omitempty"`
}

// ocsfActivity maps an event type's verb to OCSF activity ids: of API
// Activity (create 1, read 2, update 3, delete 4, other 99) and of Account
// Change (create 1, delete 6, other 99).
func ocsfActivity(typ string, account bool) (int, string) {
	verb := events.EventName(typ)
	switch {
	case verb == "created" || verb == "claimed" || verb == "member-added":
		return 1, "Create"
	case verb == "deleted" || verb == "revoked" || verb == "released" || verb == "member-removed":
		if account {
			return 6, "Delete"
		}
		return 4, "Delete"
	case !account && (verb == "updated" || verb == "scoped" || verb == "expiry-changed" || verb == "expired" || verb == "role-changed"):
		return 3, "Update"
	case !account && verb == "queried":
		return 2, "Read"
	}
	return 99, "Other"
}

func toOCSF(e auditlog.Entry) ocsfEvent {
	account := e.Kind == events.KindUser || e.Kind == events.KindServiceAccount
	out := ocsfEvent{
		SeverityID: 1, Severity: "Informational", StatusID: 1, Status: "Success",
		Time: e.Time.UnixMilli(), Message: e.Type + " " + e.Kind + " " + e.AggregateID,
		Metadata: ocsfMetadata{Version: OCSFVersion, UID: e.EventID, CorrelationUID: e.CommandID, LoggedTime: e.Time.UnixMilli(),
			Product: ocsfProduct{Name: "tokenledger", VendorName: "tokenledger"}},
		Actor:       ocsfActor{User: ocsfPrincipal(e.Actor)},
		SrcEndpoint: ocsfSource(e.Via),
		Unmapped: ocsfUnmapped{Seq: e.Seq, Type: e.Type, Reason: e.Reason, CredentialType: e.Via.CredentialType,
			UserAgent: e.Via.UserAgent, Data: e.Data, Prev: e.Prev, Hash: e.Hash},
	}
	if e.Via.CredentialID != "" || e.Via.RequestID != "" {
		out.Actor.Session = &ocsfSession{UID: e.Via.RequestID, CredentialUID: e.Via.CredentialID}
	}
	if len(out.Unmapped.Data) == 0 {
		out.Unmapped.Data = json.RawMessage("null")
	}
	out.ActivityID, out.ActivityName = ocsfActivity(e.Type, account)
	if e.Type == events.TypeAuditQueried && bytes.Contains(e.Data, []byte(`"outcome":"denied"`)) {
		out.StatusID, out.Status = 2, "Failure" // a refused read of the trail
	}
	if account {
		out.CategoryUID, out.CategoryName, out.ClassUID, out.ClassName = 3, "Identity & Access Management", 3001, "Account Change"
		kind := events.ActorUser
		if e.Kind == events.KindServiceAccount {
			kind = events.ActorServiceAccount
		}
		u := ocsfPrincipal(events.Actor{Kind: kind, ID: e.AggregateID})
		out.User = &u
	} else {
		out.CategoryUID, out.CategoryName, out.ClassUID, out.ClassName = 6, "Application Activity", 6003, "API Activity"
		out.API = &ocsfAPI{Operation: e.Type, Service: ocsfService{Name: "tokenledger"}}
		if e.Via.RequestID != "" {
			out.API.Request = &ocsfRequest{UID: e.Via.RequestID}
		}
		out.Resources = []ocsfResource{{UID: e.AggregateID, Type: e.Kind}}
	}
	out.TypeUID = out.ClassUID*100 + out.ActivityID
	return out
}

// ocsfPrincipal maps an actor to an OCSF user: type User (1), Admin (2),
// System (3) or Other (99).
func ocsfPrincipal(a events.Actor) ocsfUser {
	u := ocsfUser{UID: a.ID, Name: a.Name}
	switch a.Kind {
	case events.ActorUser:
		u.TypeID, u.Type = 1, "User"
	case events.ActorAdminToken:
		u.TypeID, u.Type = 2, "Admin"
	case events.ActorSystem:
		u.TypeID, u.Type = 3, "System"
	default:
		u.TypeID, u.Type = 99, "Other"
		if a.Kind != "" {
			u.Type = a.Kind
		}
	}
	return u
}

// ocsfSource is the request's origin.
func ocsfSource(v events.Via) ocsfEndpoint {
	ep := ocsfEndpoint{Name: v.CredentialType}
	if host, port, err := net.SplitHostPort(v.RemoteAddr); err == nil {
		ep.IP = host
		ep.Port, _ = strconv.Atoi(port)
	} else if v.RemoteAddr != "" {
		ep.IP = v.RemoteAddr
	}
	if ep.IP == "" && ep.Name == "" {
		ep.Name = "internal"
	}
	return ep
}

// paced writes a streamed answer with the connection's write deadline
// moved to timeout from now before each write: a client that reads
// steadily gets an answer of any length, one that stops reading is cut
// after timeout (the server's WriteTimeout alone bounds the whole
// answer, which cut long exports: atk-r13).
type paced struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
}

func (p paced) Write(b []byte) (int, error) {
	_ = p.rc.SetWriteDeadline(time.Now().Add(p.timeout))
	return p.w.Write(b)
}
