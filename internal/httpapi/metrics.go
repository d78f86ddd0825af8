package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Telemetry is what the metrics read from outside the server. Zero fields
// are allowed: their metrics are then left out (or, for Build, read
// "unknown").
type Telemetry struct {
	// Build labels tokenledger_build_info.
	Build BuildInfo
	// EventTime returns when the event at seq was stored; it dates the
	// oldest event the projections have not applied (stream lag in
	// seconds).
	EventTime func(ctx context.Context, seq uint64) (time.Time, error)
	// NATS reports the ledger's NATS connection: its state (one of
	// NATSStates) and how many times it reconnected.
	NATS func() (state string, reconnects uint64)
	// Feed reports the readers' feed publisher: whether it follows the
	// ledger now and the ledger sequence of the newest event the feed
	// holds. Nil: there is no feed (NATS does not listen, or is external).
	Feed func() (following bool, ledgerSeq uint64)
	// LeaderChanges reports how many times the stream's leader changed
	// (seen by polling its state). Nil: never (a single server).
	LeaderChanges func() uint64
}

// Feed states of tokenledger_feed_state.
var FeedStates = []string{"following", "retrying", "off"}

// BuildInfo is the binary's version, commit and Go version.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// NATSStates are the values of tokenledger_nats_connection_state's state
// label; Telemetry.NATS reports one of them (anything else counts as
// "disconnected").
var NATSStates = []string{"connected", "connecting", "reconnecting", "disconnected", "draining", "closed"}

// Causes of failed appends (tokenledger_append_errors_total's cause label).
const (
	CauseConflict    = "conflict"    // an expectation failed: another write came first
	CauseUnavailable = "unavailable" // the ledger refuses writes
	CauseOther       = "other"       // invalid events, timeouts: outcome unknown
)

// scrapeTimeout bounds the NATS requests of one scrape.
const scrapeTimeout = 2 * time.Second

// metrics are the service's Prometheus metrics, served at GET /metrics.
// Every label comes from a closed set: route patterns (without their
// method), methods the API knows (others fold into "other"), statuses the
// server writes and verification outcomes; never a path, a token id or a
// secret.
type metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	verified     *prometheus.CounterVec
	appendTook   prometheus.Histogram
	appendFailed *prometheus.CounterVec
	// auditUnauthenticated counts refused reads of the audit trail by
	// callers that did not authenticate (they append nothing).
	auditUnauthenticated prometheus.Counter
	hot                  hotMetrics
}

// latencyBuckets are the histogram buckets of every duration metric, in
// seconds: 100 µs to 5 s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}

func newMetrics(s *Server, t Telemetry) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokenledger_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: latencyBuckets,
		}, []string{"route"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_token_verifications_total",
			Help: "Credential verifications by outcome (valid, unknown, revoked, expired).",
		}, []string{"outcome"}),
		appendTook: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tokenledger_append_duration_seconds",
			Help:    "Time of one append to the stream (one event or one atomic batch), failed ones included.",
			Buckets: latencyBuckets,
		}),
		appendFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_append_errors_total",
			Help: "Failed appends by cause: conflict (another write came first; the command decides again), unavailable (the ledger refuses writes), other (outcome unknown or invalid events).",
		}, []string{"cause"}),
		auditUnauthenticated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tokenledger_audit_unauthenticated_total",
			Help: "Refused reads of the audit trail by callers that did not authenticate as a user, service account or admin token (not recorded in the trail).",
		}),
	}
	m.hot = newHotMetrics(m)
	build := t.Build
	for _, v := range []*string{&build.Version, &build.Commit, &build.GoVersion} {
		if *v == "" {
			*v = "unknown"
		}
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tokenledger_build_info",
		Help:        "Always 1; the labels name the binary's module version, VCS commit and Go version.",
		ConstLabels: prometheus.Labels{"version": build.Version, "commit": build.Commit, "go_version": build.GoVersion},
	})
	info.Set(1)
	m.reg.MustRegister(info, m.appendTook, m.appendFailed, m.auditUnauthenticated, &streamCollector{s: s, eventTime: t.EventTime}, &digestCollector{s: s},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_replay_duration_seconds",
			Help: "Duration of the projections' catch-up replay at start-up (so far, while it runs).",
		}, func() float64 { return s.runner.Replay().Duration.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_replay_events",
			Help: "Events the projections' catch-up replay at start-up applied (so far, while it runs).",
		}, func() float64 { return float64(s.runner.Replay().Events) }),
	)
	if t.NATS != nil {
		m.reg.MustRegister(&natsCollector{report: t.NATS})
	}
	feed := t.Feed
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "tokenledger_feed_last_ledger_sequence",
		Help: "Ledger sequence of the newest event in the readers' feed (0 without a feed).",
	}, func() float64 {
		if feed == nil {
			return 0
		}
		_, seq := feed()
		return float64(seq)
	}))
	m.reg.MustRegister(&feedCollector{report: feed})
	leaderChanges := t.LeaderChanges
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "tokenledger_nats_leader_changes_total",
		Help: "Times the stream's leader changed, as this replica saw it (polling the stream's state once a second).",
	}, func() float64 {
		if leaderChanges == nil {
			return 0
		}
		return float64(leaderChanges())
	}))
	for _, c := range []string{CauseConflict, CauseUnavailable, CauseOther} {
		m.appendFailed.WithLabelValues(c)
	}
	m.reg.MustRegister(m.requests, m.duration, m.verified,
		// go_gc_heap_live_bytes besides the defaults: the heap marked live by
		// the last GC, what sizing a ledger needs (heap_alloc includes garbage).
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(
			collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)})),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_projections_last_applied_sequence",
			Help: "Stream sequence of the last event every projection applied.",
		}, func() float64 { return float64(s.runner.LastApplied()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_projections_ready",
			Help: "1 once the projections caught up with the stream and follow it, else 0.",
		}, func() float64 { return b2f(s.runner.Ready() && s.runner.Err() == nil) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_ledger_accepts_writes",
			Help: "1 while the stream's configuration is audit-grade and appends are accepted, else 0.",
		}, func() float64 { return b2f(s.health() == nil) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tokenledger_tokens",
			Help: "Tokens in the token set, revoked and expired ones included.",
		}, func() float64 { return float64(s.tokens.Len()) }),
	)
	// Every outcome exists from the start, so rates work before the first
	// failure.
	for _, st := range []tokenset.Status{tokenset.Valid, tokenset.Unknown, tokenset.Revoked, tokenset.Expired} {
		m.verified.WithLabelValues(st.String())
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// metricMethod folds a request method into a closed set: the methods the
// API knows, and "other" for anything else (a method is any token the
// client likes, up to the header size limit).
func metricMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// metricRoute is the route label: a registered pattern without its method
// (the method has its own label), or "unmatched" for the catch-all and for
// requests refused before routing. Patterns are a closed set.
func metricRoute(pattern string) string {
	if _, p, ok := strings.Cut(pattern, " "); ok {
		pattern = p
	}
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}

// observe records one finished request; method is already folded by
// metricMethod.
func (m *metrics) observe(pattern, method string, status int, took time.Duration) {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	if pattern == edgeValidatePattern && status == http.StatusOK && method == http.MethodPost {
		m.hot.edgeOK.Inc()
		m.hot.edgeTook.Observe(took.Seconds())
		return
	}
	route := metricRoute(pattern)
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// verify is tokens.Check (the token by value: no allocation), counted by
// outcome.
func (s *Server) verify(secret string) (tokenset.Token, tokenset.Status) {
	return s.verifyAt(secret, s.cmd.Now()) // the ledger's one clock
}

// verifyAt is verify at a time the caller read from the ledger's clock.
func (s *Server) verifyAt(secret string, now time.Time) (tokenset.Token, tokenset.Status) {
	t, st := s.tokens.Check(secret, now)
	s.metrics.verifiedAs(st)
	return t, st
}

// ObserveAppend records one append to the stream: its duration and, when
// err is not nil, its cause. The command path calls it for every append
// (cmd/tokenledger wraps the store); it is safe for concurrent use.
func (s *Server) ObserveAppend(took time.Duration, err error) {
	s.metrics.appendTook.Observe(took.Seconds())
	if err != nil {
		s.metrics.appendFailed.WithLabelValues(AppendCause(err)).Inc()
	}
}

// AppendCause is the cause label of a failed append.
func AppendCause(err error) string {
	switch {
	case errors.Is(err, commands.ErrConflict):
		return CauseConflict
	case errors.Is(err, commands.ErrUnavailable):
		return CauseUnavailable
	}
	return CauseOther
}

var (
	descLastSeq = prometheus.NewDesc("tokenledger_stream_last_sequence",
		"Sequence of the newest event in the stream.", nil, nil)
	descLagEvents = prometheus.NewDesc("tokenledger_stream_lag_events",
		"Events in the stream the projections have not applied yet (stream last sequence minus projections' last applied).", nil, nil)
	descLagSeconds = prometheus.NewDesc("tokenledger_stream_lag_seconds",
		"Age of the oldest event the projections have not applied yet; 0 when they are caught up.", nil, nil)
	descNATSState = prometheus.NewDesc("tokenledger_nats_connection_state",
		"1 for the state the ledger's NATS connection is in, 0 for the others.", []string{"state"}, nil)
	descNATSReconnects = prometheus.NewDesc("tokenledger_nats_reconnects_total",
		"Times the ledger's NATS connection reconnected.", nil, nil)
)

// streamCollector reads the stream's last sequence (one STREAM.INFO) and,
// when the projections lag, the time of the oldest unapplied event (one
// Direct Get) at each scrape. A failed read leaves its metrics out of
// the scrape rather than report a wrong number.
type streamCollector struct {
	s         *Server
	eventTime func(context.Context, uint64) (time.Time, error)

	// The stream figures cost JetStream API calls, which share one queue
	// with the ledger's own: however often /metrics is scraped, they are
	// read at most once per streamReadEvery.
	mu       sync.Mutex
	readAt   time.Time
	last     uint64
	timedSeq uint64
	timedAt  time.Time
}

// streamReadEvery bounds how often scrapes read the stream's figures.
const streamReadEvery = 2 * time.Second

// lastSequence is the stream's last sequence, read at most once per
// streamReadEvery.
func (c *streamCollector) lastSequence(ctx context.Context) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < streamReadEvery {
		return c.last, nil
	}
	last, err := c.s.source.LastSequence(ctx)
	if err != nil {
		return 0, err
	}
	c.last, c.readAt = last, time.Now()
	return last, nil
}

// storedAt is when the event at seq was stored, read once per sequence.
func (c *streamCollector) storedAt(ctx context.Context, seq uint64) (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timedSeq == seq {
		return c.timedAt, nil
	}
	at, err := c.eventTime(ctx, seq)
	if err != nil {
		return time.Time{}, err
	}
	c.timedSeq, c.timedAt = seq, at
	return at, nil
}

func (c *streamCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLastSeq
	ch <- descLagEvents
	if c.eventTime != nil {
		ch <- descLagSeconds
	}
}

func (c *streamCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	applied := c.s.runner.LastApplied()
	last, err := c.lastSequence(ctx)
	if err != nil {
		c.s.log.Debug("metrics: read the stream's last sequence", "err", err)
		return
	}
	lag := uint64(0)
	if last > applied {
		lag = last - applied
	}
	ch <- prometheus.MustNewConstMetric(descLastSeq, prometheus.GaugeValue, float64(last))
	ch <- prometheus.MustNewConstMetric(descLagEvents, prometheus.GaugeValue, float64(lag))
	if c.eventTime == nil {
		return
	}
	age := 0.0
	if lag > 0 {
		at, err := c.storedAt(ctx, applied+1)
		if err != nil {
			c.s.log.Debug("metrics: read the oldest unapplied event's time", "seq", applied+1, "err", err)
			return
		}
		age = max(time.Since(at).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descLagSeconds, prometheus.GaugeValue, age)
}

// natsCollector reports the NATS connection's state as one-hot gauges
// over NATSStates.
type natsCollector struct {
	report func() (string, uint64)
}

func (c *natsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descNATSState
	ch <- descNATSReconnects
}

// feedCollector reports the feed publisher's state as one-hot gauges over
// FeedStates.
type feedCollector struct {
	report func() (bool, uint64)
}

var descFeedState = prometheus.NewDesc("tokenledger_feed_state",
	"1 for the state the readers' feed publisher is in (following, retrying after an error, off), 0 for the others.", []string{"state"}, nil)

func (c *feedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descFeedState }

func (c *feedCollector) Collect(ch chan<- prometheus.Metric) {
	state := "off"
	if c.report != nil {
		state = "retrying"
		if following, _ := c.report(); following {
			state = "following"
		}
	}
	for _, st := range FeedStates {
		ch <- prometheus.MustNewConstMetric(descFeedState, prometheus.GaugeValue, b2f(st == state), st)
	}
}

func (c *natsCollector) Collect(ch chan<- prometheus.Metric) {
	state, reconnects := c.report()
	known := false
	for _, st := range NATSStates {
		known = known || st == state
	}
	if !known {
		state = "disconnected"
	}
	for _, st := range NATSStates {
		ch <- prometheus.MustNewConstMetric(descNATSState, prometheus.GaugeValue, b2f(st == state), st)
	}
	ch <- prometheus.MustNewConstMetric(descNATSReconnects, prometheus.CounterValue, float64(reconnects))
}
