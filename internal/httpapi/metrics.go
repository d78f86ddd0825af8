package httpapi

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// metrics are the service's Prometheus metrics, served at GET /metrics.
// Every label comes from a closed set: route patterns (without their
// method), methods the API knows (others fold into "other"), statuses the
// server writes and verification outcomes; never a path, a token id or a
// secret.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	verified *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_http_requests_total",
			Help: "HTTP requests by route pattern, method and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tokenledger_http_request_duration_seconds",
			Help:    "HTTP request duration by route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		verified: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tokenledger_token_verifications_total",
			Help: "Credential verifications by outcome (valid, unknown, revoked, expired).",
		}, []string{"outcome"}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.verified,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
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
	route := metricRoute(pattern)
	if status == 0 {
		status = http.StatusOK // nothing written: net/http answers 200
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(route).Observe(took.Seconds())
}

// verify is tokens.Verify, counted by outcome.
func (s *Server) verify(secret string) (*tokenset.Token, tokenset.Status) {
	t, st := s.tokens.Verify(secret)
	s.metrics.verified.WithLabelValues(st.String()).Inc()
	return t, st
}
