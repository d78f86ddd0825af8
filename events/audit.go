package events

// KindAudit is the aggregate kind of the audit trail's own records: each
// read of the trail (or attempt to read it) is one aggregate of one event.
const KindAudit = "audit"

// TypeAuditQueried records a read of the audit trail, or an authenticated
// caller's attempt that was refused.
const TypeAuditQueried = "audit.queried"

// Outcomes of an audit.queried event.
const (
	AuditAllowed = "allowed"
	AuditDenied  = "denied"
)

// AuditQueried records who read the audit trail, through which route and
// with which filters. The actor and via of the envelope say who and through
// which credential, as on every event. It holds no event of the trail.
type AuditQueried struct {
	// Route is the route pattern read, e.g. "GET /api/ledger/events".
	Route string `json:"route"`
	// Outcome is AuditAllowed, or AuditDenied for a caller without the
	// permission (answered 403).
	Outcome string `json:"outcome"`
	// Format is the answer's form: json (a page or a state), ndjson, csv
	// or ocsf (an export), bundle (an auditor's bundle of events with
	// their proofs).
	Format string `json:"format,omitempty"`
	// Filters are the query parameters and path values as given (cursors
	// and windows included), each value cut to its first 256 bytes.
	Filters map[string][]string `json:"filters,omitempty"`
	// Missing names the permission a denied caller lacked.
	Missing string `json:"missing,omitempty"`
}

// EventType implements Payload.
func (AuditQueried) EventType() string { return TypeAuditQueried }

// AggregateKind implements Payload.
func (AuditQueried) AggregateKind() string { return KindAudit }

// SchemaVersion implements Payload.
func (AuditQueried) SchemaVersion() int { return 1 }

func init() { register[AuditQueried](1, nil) }
