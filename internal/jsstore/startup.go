package jsstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// PermissionError is returned by [Open] when the connection's user lacks a
// permission the store needs. Missing lists each one as "publish SUBJECT"
// or "subscribe SUBJECT".
type PermissionError struct {
	Missing []string
}

func (e *PermissionError) Error() string {
	return "jsstore: the NATS user lacks permissions the ledger needs: " + strings.Join(e.Missing, "; ")
}

// probeTimeout bounds the whole permission check.
const probeTimeout = 10 * time.Second

// checkPermissions asks the server, subject by subject, whether nc's user
// may do what the store does: publish events to ledger.>, call the
// JetStream API for the stream (info, Direct Get by sequence and by
// subject, consumers for reads),
// subscribe to the stream's advisories and to its own inbox. The server
// answers a denied publish or subscription with a permissions violation
// naming the subject; a PONG after each probe orders the answers. No probe
// stores anything: the event probe carries an expectation no stream meets,
// the API probes carry no valid request.
func checkPermissions(ctx context.Context, nc *nats.Conn, stream string) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	probe := "tokenledger-permission-probe-" + nuid.Next()
	api := "$JS.API."
	inbox := nc.Opts.InboxPrefix
	if inbox == "" {
		inbox = nats.InboxPrefix[:len(nats.InboxPrefix)-1]
	}
	var missing []string
	denied := func(kind, subject string) (bool, error) {
		if err := nc.FlushWithContext(ctx); err != nil {
			return false, fmt.Errorf("jsstore: permission check: %w", err)
		}
		le := nc.LastError()
		return le != nil && errors.Is(le, nats.ErrPermissionViolation) &&
			strings.Contains(le.Error(), kind+` to "`+subject+`"`), nil
	}
	pubs := []struct{ subject, need string }{
		{"ledger.probe." + probe, "ledger.>"},
		{api + "INFO", api + "INFO"},
		{api + "STREAM.INFO." + stream, api + "STREAM.INFO." + stream},
		{api + "DIRECT.GET." + stream, api + "DIRECT.GET." + stream},
		{api + "DIRECT.GET." + stream + "." + probe, api + "DIRECT.GET." + stream + ".>"}, // last message on a subject
		{api + "CONSUMER.CREATE." + stream + "." + probe, api + "CONSUMER.CREATE." + stream + ".>"},
		{api + "CONSUMER.MSG.NEXT." + stream + "." + probe, api + "CONSUMER.MSG.NEXT." + stream + ".>"},
		{api + "CONSUMER.INFO." + stream + "." + probe, api + "CONSUMER.INFO." + stream + ".>"},
		{api + "CONSUMER.DELETE." + stream + "." + probe, api + "CONSUMER.DELETE." + stream + ".>"},
		{api + "CONSUMER.LIST." + stream, api + "CONSUMER.LIST." + stream},
	}
	reply := inbox + "." + probe
	for _, p := range pubs {
		m := nats.NewMsg(p.subject)
		m.Reply = reply
		if strings.HasPrefix(p.subject, "ledger.") {
			m.Header.Set(jetstream.ExpectedStreamHeader, probe) // no stream has this name: never stored
			m.Header.Set(jetstream.ExpectedLastSeqHeader, "18446744073709551615")
		}
		if err := nc.PublishMsg(m); err != nil {
			return fmt.Errorf("jsstore: permission check: publish %s: %w", p.subject, err)
		}
		bad, err := denied("Publish", p.subject)
		if err != nil {
			return err
		}
		if bad {
			missing = append(missing, "publish "+p.need)
		}
	}
	for _, subject := range []string{advisoryUpdated + stream, advisoryDeleted + stream, inbox + ".>"} {
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			return fmt.Errorf("jsstore: permission check: subscribe %s: %w", subject, err)
		}
		bad, err := denied("Subscription", subject)
		_ = sub.Unsubscribe()
		if err != nil {
			return err
		}
		if bad {
			missing = append(missing, "subscribe "+subject)
		}
	}
	if len(missing) > 0 {
		return &PermissionError{Missing: missing}
	}
	return nil
}

// listenedSubjects are the subjects the ledger (or JetStream on its
// behalf) listens to: a push consumer delivering onto one of them can
// forge advisories, API requests or replies.
func listenedSubjects(inboxPrefix string) []string {
	l := []string{"$JS.>", "$SYS.>", "$KV.>", "$O.>", "$NRG.>", ledgerSubjects, "_INBOX.>"}
	if inboxPrefix != "" {
		l = append(l, inboxPrefix+".>")
	}
	return l
}

// removeForeignConsumers deletes the consumers on the stream that the
// ledger did not create and that can harm it: push consumers whose
// deliver subject is one the ledger listens to (their heartbeats and
// messages would arrive as advisories, API calls or replies) and, when
// ownsServer (the embedded server, where only the ledger creates
// consumers, and only ordered pull ones), every durable consumer and
// every push consumer (an older version's feed mirror had one). Each
// removal is logged at ERROR with the consumer's name and deliver
// subject. Removing rather
// than refusing to start: a refusal would let whoever planted the
// consumer keep the ledger down.
func (s *Store) removeForeignConsumers(ctx context.Context, stream jetstream.Stream) error {
	listened := listenedSubjects(s.nc.Opts.InboxPrefix)
	lister := stream.ListConsumers(ctx)
	var foreign []*jetstream.ConsumerInfo
	for ci := range lister.Info() {
		if reason := s.foreignReason(ci, listened); reason != "" {
			foreign = append(foreign, ci)
			s.logf(slog.LevelError, "removing a consumer on the ledger stream that the ledger did not create",
				"stream", s.name, "consumer", ci.Name, "durable", ci.Config.Durable, "deliver_subject", ci.Config.DeliverSubject,
				"reason", reason)
		}
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("jsstore: open: list consumers of %s: %w", s.name, err)
	}
	for _, ci := range foreign {
		if err := stream.DeleteConsumer(ctx, ci.Name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("jsstore: open: remove foreign consumer %q of %s: %w", ci.Name, s.name, err)
		}
	}
	return nil
}

// removeForeignStreams deletes, on the embedded server, every stream of
// the ledger's account but the ledger's own: only the ledger creates
// streams there, and a planted one can carry consumers whose heartbeats
// go to the subjects the ledger listens to (its advisories). Deleting a
// stream deletes its consumers. Each removal is logged at ERROR with the
// stream's name, subjects and consumers; removing rather than refusing to
// start, as for consumers.
func (s *Store) removeForeignStreams(ctx context.Context) error {
	lister := s.js.ListStreams(ctx)
	var foreign []string
	for si := range lister.Info() {
		if si.Config.Name == s.name {
			continue
		}
		foreign = append(foreign, si.Config.Name)
		s.logf(slog.LevelError, "removing a stream in the ledger's account that the ledger did not create (only the ledger creates streams there)",
			"stream", si.Config.Name, "subjects", strings.Join(si.Config.Subjects, " "), "consumers", si.State.Consumers,
			"messages", si.State.Msgs)
	}
	if err := lister.Err(); err != nil {
		return fmt.Errorf("jsstore: open: list streams: %w", err)
	}
	for _, name := range foreign {
		if err := s.js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("jsstore: open: remove foreign stream %q: %w", name, err)
		}
	}
	return nil
}

func (s *Store) foreignReason(ci *jetstream.ConsumerInfo, listened []string) string {
	ds := ci.Config.DeliverSubject
	if ds != "" {
		if strings.ContainsAny(ds, "*>") {
			return "push consumer with a wildcard deliver subject"
		}
		for _, l := range listened {
			if covers(l, ds) {
				return "push consumer delivering onto " + l + ", a subject the ledger listens to"
			}
		}
		if s.cfg.OwnsServer {
			return "push consumer on the embedded server (the ledger creates none)"
		}
	}
	if s.cfg.OwnsServer && ci.Config.Durable != "" {
		return "durable consumer on the embedded server (the ledger creates none)"
	}
	return ""
}

func (s *Store) logf(level slog.Level, msg string, args ...any) {
	if s.cfg.Log != nil {
		s.cfg.Log.Log(context.Background(), level, msg, args...)
	}
}
