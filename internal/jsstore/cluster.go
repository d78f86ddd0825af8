package jsstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/tokenledger/tokenledger/commands"
)

// JetStream API error codes of a cluster that cannot serve a request right
// now (an election, a node or quorum lost, a leader still catching up).
// The request changed nothing; the same request may succeed later.
const (
	codeClusterIncomplete       jetstream.ErrorCode = 10004            // incomplete results
	codeClusterNoPeers          jetstream.ErrorCode = 10005            // no suitable peers for placement
	codeClusterNotAvailable     jetstream.ErrorCode = 10008            // JetStream system temporarily unavailable
	codeClusterNotLeader        jetstream.ErrorCode = 10009            // cluster can not handle request
	codeInsufficientResources   jetstream.ErrorCode = 10023            // insufficient resources (peers down)
	codeStreamOffline           jetstream.ErrorCode = 10118            // stream is offline
	codeExpectedLastSeqNotReady jetstream.ErrorCode = 10163            // new leader not caught up: expectation unavailable
	codeStreamOfflineWithReason jetstream.ErrorCode = 10194            // stream is offline: reason
	codeJetStreamNotEnabledYet  jetstream.ErrorCode = 10076            // answered by a node before its meta layer is up
	codeReplicasNotSupported    jetstream.ErrorCode = 10074            // replicas > 1 on a lone server
	transientRetryBudget                            = 12 * time.Second // above the Raft election timeout (4–9 s)
	transientFirstBackoff                           = 50 * time.Millisecond
	transientMaxBackoff                             = 100 * time.Millisecond // a new leader is found within 100 ms
)

// transientAttemptTimeout bounds one attempt of an append; a variable so
// that a test can make it too long to wait for.
var transientAttemptTimeout = 2 * time.Second

// retryWarnEvery is the least time between two WARN lines of one
// append's retries.
const retryWarnEvery = time.Second

// codeMsgIDInProcess answers an append whose msg id an earlier attempt
// holds in the leader's proposals (a leader that lost its quorum keeps it
// there): that attempt may yet be stored. Retried; in the end an unknown
// outcome.
const codeMsgIDInProcess jetstream.ErrorCode = 10158

// inProcess reports whether err says an earlier attempt with the same
// msg id is still being processed.
func inProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == codeMsgIDInProcess
}

// refusedCodes are the cluster errors after which nothing was stored.
var refusedCodes = map[jetstream.ErrorCode]bool{
	codeClusterIncomplete: true, codeClusterNoPeers: true, codeClusterNotAvailable: true, codeClusterNotLeader: true,
	codeInsufficientResources: true, codeStreamOffline: true, codeExpectedLastSeqNotReady: true,
	codeStreamOfflineWithReason: true, codeJetStreamNotEnabledYet: true,
}

// Refused reports whether err says the cluster could not take a request
// right now and nothing was done: no server answered for the stream (no
// responders) or the cluster answered with an election-time error.
func Refused(err error) bool {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, errNotSent) {
		return true
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && refusedCodes[apiErr.ErrorCode]
}

// TimedOut reports whether err is a request that got no answer in time,
// or none before the connection was lost: the cluster may or may not have
// acted on it.
func TimedOut(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrNoServers) ||
		errors.Is(err, nats.ErrDisconnected)
}

// Transient reports whether err from [Open] (or another request) is the
// cluster being unavailable for now, an election or nodes still starting,
// rather than a refusal that waiting cannot change (a *ConfigError, a
// *PermissionError, a server too old).
func Transient(err error) bool {
	var ce *ConfigError
	var pe *PermissionError
	var de *DurabilityError
	if errors.As(err, &ce) || errors.As(err, &pe) || errors.As(err, &de) {
		return false
	}
	return Refused(err) || TimedOut(err)
}

// unavailable wraps a read error: a cluster that cannot answer makes
// the read fail with [commands.ErrUnavailable] (nothing was changed).
func unavailable(err error) error {
	if err != nil && (Refused(err) || TimedOut(err)) && !errors.Is(err, commands.ErrUnavailable) {
		return fmt.Errorf("%w: %w", commands.ErrUnavailable, err)
	}
	return err
}

// ClusterReplicas is the replica count a new stream gets on the servers
// nc is connected to: 1 on a server outside a cluster; on a cluster, the
// number of servers the client knows (those in --nats-url and those the
// cluster advertised), at most 3.
func ClusterReplicas(nc *nats.Conn) int {
	if nc.ConnectedClusterName() == "" {
		return 1
	}
	return min(3, max(1, len(nc.Servers())))
}

// DurabilityError is returned by [CheckDurability] when acknowledged
// appends could be lost: Problems lists why.
type DurabilityError struct {
	Stream   string
	Problems []string
}

func (e *DurabilityError) Error() string {
	return fmt.Sprintf("jsstore: stream %s could lose acknowledged events: %s (start with --allow-unsafe-durability to run anyway)",
		e.Stream, strings.Join(e.Problems, "; "))
}

// Durability is what [CheckDurability] found.
type Durability struct {
	// Replicas is the stream's replica count; Clustered says whether the
	// server is part of a cluster.
	Replicas  int
	Clustered bool
	// SyncChecked says whether the servers' sync setting was read (it
	// needs a system account connection); SyncAlways lists, per server
	// that holds a replica, whether it syncs after every write.
	SyncChecked bool
	SyncAlways  map[string]bool
}

// varzTimeout is how long [CheckDurability] collects servers' answers.
const varzTimeout = 2 * time.Second

// CheckDurability checks that the stream's acknowledged events survive a
// crash: on a cluster the stream must have more than one replica, and
// every server holding a replica must sync after every write
// (sync_interval: always). A client can read the sync setting only
// through the system account ($SYS.REQ.SERVER.PING.VARZ): sys is such a
// connection, or nil, and then the setting cannot be read (SyncChecked
// false), and an unproven durability is a problem too: a default
// nats-server syncs every 2 minutes. It returns what it found and, when
// events could be lost or that is not proven, a *DurabilityError.
func CheckDurability(ctx context.Context, nc, sys *nats.Conn, stream string) (Durability, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return Durability{}, fmt.Errorf("jsstore: durability: %w", err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return Durability{}, fmt.Errorf("jsstore: durability: stream %s: %w", stream, err)
	}
	info := st.CachedInfo()
	d := Durability{Replicas: info.Config.Replicas, Clustered: nc.ConnectedClusterName() != ""}
	var problems []string
	if d.Clustered && d.Replicas < 2 {
		problems = append(problems, fmt.Sprintf("%d replica on cluster %s: losing one server loses the events it holds (want 3; set --nats-replicas or edit the stream)",
			d.Replicas, nc.ConnectedClusterName()))
	}
	if sys == nil {
		problems = append(problems, "cannot prove that the NATS servers sync every write (sync_interval: always): "+
			"give --nats-system-url a system-account user allowed $SYS.REQ.SERVER.PING.VARZ to check it")
	}
	if sys != nil {
		sync, err := serversSync(ctx, sys)
		if err != nil {
			return d, err
		}
		peers := streamPeers(info)
		if !d.Clustered || len(peers) == 0 {
			peers = peers[:0]
			for name := range sync {
				peers = append(peers, name)
			}
			sort.Strings(peers)
		}
		d.SyncChecked, d.SyncAlways = true, map[string]bool{}
		for _, p := range peers {
			always, seen := sync[p]
			d.SyncAlways[p] = always
			switch {
			case !seen:
				problems = append(problems, fmt.Sprintf("server %s holds a replica but did not report its sync setting", p))
			case !always:
				problems = append(problems, fmt.Sprintf("server %s does not sync every write (set jetstream { sync_interval: always })", p))
			}
		}
	}
	if len(problems) > 0 {
		return d, &DurabilityError{Stream: stream, Problems: problems}
	}
	return d, nil
}

// streamPeers are the names of the servers holding the stream, sorted.
func streamPeers(info *jetstream.StreamInfo) []string {
	var peers []string
	if info.Cluster == nil {
		return peers
	}
	if info.Cluster.Leader != "" {
		peers = append(peers, info.Cluster.Leader)
	}
	for _, r := range info.Cluster.Replicas {
		peers = append(peers, r.Name)
	}
	sort.Strings(peers)
	return peers
}

// serversSync asks every server, through the system account, whether it
// syncs after every write; it collects answers for varzTimeout.
func serversSync(ctx context.Context, sys *nats.Conn) (map[string]bool, error) {
	inbox := sys.NewRespInbox()
	sub, err := sys.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("jsstore: durability: subscribe: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := sys.PublishRequest("$SYS.REQ.SERVER.PING.VARZ", inbox, nil); err != nil {
		return nil, fmt.Errorf("jsstore: durability: ask the servers: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, varzTimeout)
	defer cancel()
	out := map[string]bool{}
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			if len(out) == 0 {
				return nil, fmt.Errorf("jsstore: durability: no server answered $SYS.REQ.SERVER.PING.VARZ (is the --nats-system-url user in the system account?): %w", err)
			}
			return out, nil
		}
		var r struct {
			Server struct {
				Name string `json:"name"`
			} `json:"server"`
			Data struct {
				JetStream struct {
					Config *struct {
						SyncAlways bool `json:"sync_always"`
					} `json:"config"`
				} `json:"jetstream"`
			} `json:"data"`
		}
		if json.Unmarshal(m.Data, &r) != nil || r.Server.Name == "" {
			continue
		}
		out[r.Server.Name] = r.Data.JetStream.Config != nil && r.Data.JetStream.Config.SyncAlways
	}
}

// publishRetrying runs publish (one attempt of an append) until it
// succeeds, fails for good, or the cluster stayed unavailable for
// transientRetryBudget: a leader lost or an election under way refuses
// the write or leaves it unanswered; the new leader takes it seconds
// later. Each attempt gets transientAttemptTimeout. Only a batch whose
// every event has a MsgID is retried: the stream then stores a retried
// event once (a duplicate ack, or a conflict or batch duplicate that
// [Store.failed] resolves to the stored sequence). It returns the last
// attempt's error, or, when an earlier attempt went unanswered and the
// last was refused, an error saying the outcome is unknown: the
// unanswered one may still be stored (a leader that took it but lost its
// quorum can commit it once the quorum is back). While the connection is
// down no attempt is sent (one sent then would wait in the client's
// reconnect buffer and could be stored after the caller was told
// otherwise).
func (s *Store) publishRetrying(ctx context.Context, batch []commands.Append, publish func(context.Context) (commands.Stored, error)) (commands.Stored, error) {
	retryable := true
	for i := range batch {
		retryable = retryable && batch[i].MsgID != ""
	}
	deadline := time.Now().Add(transientRetryBudget)
	backoff := transientFirstBackoff
	var unanswered error // the first attempt that may have been stored
	var warned time.Time
	for {
		var stored commands.Stored
		var err error
		if s.nc.Status() != nats.CONNECTED {
			err = errNotSent
		} else {
			actx, cancel := s.attemptContext(ctx, transientAttemptTimeout)
			stored, err = publish(actx)
			err = inFlightAcrossReconnect(actx, err)
			cancel()
		}
		if err == nil {
			return stored, nil
		}
		if (TimedOut(err) || inProcess(err)) && unanswered == nil {
			unanswered = err
		}
		if !retryable || ctx.Err() != nil || !(Refused(err) || TimedOut(err) || inProcess(err)) || time.Now().Add(backoff).After(deadline) {
			return commands.Stored{}, gaveUp(unanswered, err)
		}
		if time.Since(warned) >= retryWarnEvery { // one line a second, not one per 100 ms
			s.logf(slog.LevelWarn, "append not taken by the cluster; retrying with the same msg ids", "stream", s.name, "err", err, "in", backoff)
			warned = time.Now()
		}
		select {
		case <-ctx.Done():
			return commands.Stored{}, gaveUp(unanswered, err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, transientMaxBackoff)
	}
}

// gaveUp is the error of a retried append that stops at last: an
// unknown outcome when an earlier attempt went unanswered and the last
// was refused, else last.
func gaveUp(unanswered, last error) error {
	if unanswered != nil && Refused(last) {
		return &unknownOutcome{first: unanswered, last: last}
	}
	return last
}

// unknownOutcome is a retried append whose last attempt was refused
// (nothing stored by it) after an earlier attempt went unanswered (which
// may have been stored): the outcome is unknown. It unwraps to the
// first, unanswered, attempt's error only, so it is never taken for a
// refusal.
type unknownOutcome struct{ first, last error }

func (e *unknownOutcome) Error() string {
	return fmt.Sprintf("an attempt went unanswered (%v) before the cluster refused the last (%v)", e.first, e.last)
}

func (e *unknownOutcome) Unwrap() error { return e.first }
