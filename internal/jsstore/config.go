package jsstore

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/events"
)

// Defaults applied by [Open] to a zero [Config] field.
const (
	DefaultStream     = "LEDGER"
	DefaultReplicas   = 1
	DefaultDuplicates = 2 * time.Minute
	DefaultRecheck    = time.Minute
	// DefaultStallCheck is Config.StallCheck's default.
	DefaultStallCheck = time.Second
)

// MaxMsgSize bounds one stored event (headers and envelope).
const MaxMsgSize = 64 << 10

// MaxBatch is the most events one Append may store: the server's limit for
// an atomic batch.
const MaxBatch = 1000

// Config selects and shapes the stream. Zero fields take the defaults.
type Config struct {
	// Stream is the stream's name; default "LEDGER".
	Stream string
	// Replicas is used when the stream is created; default 1 (embedded).
	// Use 3 on a cluster. An existing stream keeps its own value.
	Replicas int
	// Duplicates is the idempotency window used when the stream is
	// created; default 2 minutes. Commands may be retried with the same
	// MsgID inside it.
	Duplicates time.Duration
	// Recheck is how often the stream's configuration is re-read even
	// without an advisory (advisories sent while the connection was down
	// are lost); default 1 minute.
	Recheck time.Duration
	// StallCheck is how long a read of the whole stream (Replay, Follow)
	// may go without a delivery before it checks that the next sequence
	// is readable when the stream holds it; default 1 second. A damaged
	// newest record is reported after about twice this.
	StallCheck time.Duration
	// OwnsServer says the server is the ledger's embedded one, where only
	// the ledger creates consumers (ordered ones, pull): [Open] then
	// removes every durable or push consumer on the stream.
	OwnsServer bool
	// Log receives the store's warnings (foreign consumers removed at
	// start-up); nil discards them.
	Log Logger
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Replicas <= 0 {
		c.Replicas = DefaultReplicas
	}
	if c.Duplicates <= 0 {
		c.Duplicates = DefaultDuplicates
	}
	if c.Recheck <= 0 {
		c.Recheck = DefaultRecheck
	}
	if c.StallCheck <= 0 {
		c.StallCheck = DefaultStallCheck
	}
	return c
}

// subjects is what the stream must capture.
var ledgerSubjects = events.SubjectPrefix + ".>"

// StreamConfig is the audit-grade configuration [Open] creates the stream
// with (defaults applied to cfg): file storage, limits retention without
// any limit, DiscardNew, deletes, purges, roll-ups and TTLs refused, a
// duplicates window, Direct Get and atomic batches allowed.
func StreamConfig(cfg Config) jetstream.StreamConfig {
	cfg = cfg.withDefaults()
	return jetstream.StreamConfig{
		Name:               cfg.Stream,
		Description:        "tokenledger events; append-only audit log",
		Subjects:           []string{ledgerSubjects},
		Storage:            jetstream.FileStorage,
		Replicas:           cfg.Replicas,
		Retention:          jetstream.LimitsPolicy,
		Discard:            jetstream.DiscardNew,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		MaxMsgSize:         MaxMsgSize,
		Duplicates:         cfg.Duplicates,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowRollup:        false,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		AllowMsgTTL:        false,
		Compression:        jetstream.NoCompression,
		Metadata:           map[string]string{"tokenledger.schema": "1"},
	}
}

// ConfigError is returned by [CheckConfig] and [Open] for a stream whose
// configuration is not fit to be the ledger. Problems lists every
// violation found.
type ConfigError struct {
	Stream   string
	Problems []string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("jsstore: stream %s is not an audit-grade ledger: %s", e.Stream, strings.Join(e.Problems, "; "))
}

// CheckConfig reports every way sc falls short of an append-only,
// audit-grade ledger, as a *ConfigError, or nil when it is fit. It flags
// allowed deletes, purges, roll-ups and per-message TTLs, any MaxAge,
// MaxMsgs, MaxBytes or MaxMsgsPerSubject limit, DiscardOld, storage other
// than file, retention other than limits, async persistence, no-ack, a
// mirror or subject transform, a seal, subjects that do not cover ledger.>, and the
// missing features the store relies on (Direct Get, atomic batches).
func CheckConfig(sc jetstream.StreamConfig) error {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !sc.DenyDelete {
		add("message deletes allowed (deny_delete off)")
	}
	if !sc.DenyPurge {
		add("purges allowed (deny_purge off)")
	}
	if sc.AllowRollup {
		add("roll-ups allowed (allow_rollup_hdrs on)")
	}
	if sc.AllowMsgTTL {
		add("per-message TTLs allowed (allow_msg_ttl on)")
	}
	if sc.SubjectDeleteMarkerTTL > 0 {
		add("subject delete markers set (subject_delete_marker_ttl %s)", sc.SubjectDeleteMarkerTTL)
	}
	if sc.MaxAge > 0 {
		add("max_age limit %s would expire history", sc.MaxAge)
	}
	if sc.MaxMsgs > 0 {
		add("max_msgs limit %d", sc.MaxMsgs)
	}
	if sc.MaxBytes > 0 {
		add("max_bytes limit %d", sc.MaxBytes)
	}
	if sc.MaxMsgsPerSubject > 0 {
		add("max_msgs_per_subject limit %d", sc.MaxMsgsPerSubject)
	}
	if sc.Discard != jetstream.DiscardNew {
		add("discard policy %s (a limit would drop old events; want new)", sc.Discard)
	}
	if sc.Storage != jetstream.FileStorage {
		add("storage %s (want file)", sc.Storage)
	}
	if sc.Retention != jetstream.LimitsPolicy {
		add("retention %s (want limits: consumers must not remove events)", sc.Retention)
	}
	if sc.PersistMode != jetstream.DefaultPersistMode {
		add("persist_mode %s (acknowledges before the write is persisted)", sc.PersistMode)
	}
	if sc.Sealed {
		add("sealed (it takes no more events, and a seal cannot be undone)")
	}
	if sc.NoAck {
		add("no_ack on (appends would not be acknowledged)")
	}
	if sc.Mirror != nil {
		add("stream is a mirror of %s (read-only)", sc.Mirror.Name)
	}
	if len(sc.Sources) > 0 {
		add("stream sources %d other stream(s): their messages enter the ledger without its authorship or expectations", len(sc.Sources))
	}
	if sc.AllowMsgSchedules {
		add("message schedules allowed (allow_msg_schedules on)")
	}
	if sc.SubjectTransform != nil {
		add("subject transform %s → %s rewrites stored subjects", sc.SubjectTransform.Source, sc.SubjectTransform.Destination)
	}
	if !coversAny(sc.Subjects, ledgerSubjects) {
		add("subjects %v do not cover %s", sc.Subjects, ledgerSubjects)
	}
	if !sc.AllowDirect {
		add("direct get not allowed (allow_direct off; Load needs it)")
	}
	if !sc.AllowAtomicPublish {
		add("atomic batch publish not allowed (allow_atomic off; multi-event commands need it)")
	}
	if len(p) == 0 {
		return nil
	}
	return &ConfigError{Stream: sc.Name, Problems: p}
}

func coversAny(patterns []string, target string) bool {
	for _, p := range patterns {
		if covers(p, target) {
			return true
		}
	}
	return false
}

// covers reports whether every subject matched by target is matched by
// pattern (NATS wildcards: * one token, > one or more trailing tokens).
func covers(pattern, target string) bool {
	pt, tt := strings.Split(pattern, "."), strings.Split(target, ".")
	for i, p := range pt {
		if p == ">" {
			return i < len(tt) // > needs at least one token, target has them
		}
		if i >= len(tt) {
			return false
		}
		t := tt[i]
		switch {
		case t == ">":
			return false // target matches more tokens than this pattern can
		case p == "*":
		case p != t || t == "*":
			return false
		}
	}
	return len(pt) == len(tt)
}
