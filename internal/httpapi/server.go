// Package httpapi is tokenledger's HTTP surface: Unleash's token routes
// (answers that validate against Unleash's own schemas), the principal and
// catalogue routes, /edge/validate, and ledger-native routes for the audit
// trail. Every mutation is one command; its event records the caller and the
// credential it came through. Every error has one JSON shape.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Config holds the server's settings. The zero value is usable: no auth
// proxy, 64 KiB bodies, 5 s read-your-writes wait.
type Config struct {
	// WriteTimeout is the http.Server's: streamed answers (audit exports)
	// extend the connection's write deadline by it before each write, so
	// it bounds each write, not the whole answer. Zero: 2 × WriteWait +
	// 15 s, serve's.
	WriteTimeout time.Duration
	// SecretBodies are the parts after the public "projects:environment."
	// prefix of the secrets this process was given (the bootstrap tokens,
	// admin ones included), which need not look like generated ones (hex):
	// the checks of client text for secrets find such a part anywhere in
	// it, alone or glued to other characters. New keeps no copy of them
	// (see needles).
	SecretBodies []string
	// AuthProxyHeader names a header carrying the signed-in user's username
	// or email, set by a trusted single-sign-on proxy. Empty: off.
	AuthProxyHeader string
	// TrustedProxies are the addresses AuthProxyHeader is accepted from.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds request bodies (413 beyond).
	MaxBodyBytes int64
	// WriteWait bounds how long a mutation waits for the projections to
	// apply its event before answering.
	WriteWait time.Duration
	// UnauthRate and UnauthBurst are the per-client-address token bucket
	// of the token oracles: every token /edge/validate does not find and
	// every bearer credential that fails to authenticate (401) spends one;
	// an address with an empty bucket gets 429 at /edge/validate and for
	// every bearer credential, before it is looked at. Sign-ins through the
	// auth proxy are not limited by it. UnauthRate <= 0: off.
	UnauthRate  float64
	UnauthBurst int
	// MutationRate and MutationBurst are the per-principal token bucket of
	// mutations (POST, PUT, PATCH, DELETE): each spends one, 429 when empty.
	// MutationRate <= 0: off.
	MutationRate  float64
	MutationBurst int
	// MaxLimiterKeys bounds the addresses and principals each limit keeps
	// buckets for (default 10,000).
	MaxLimiterKeys int
	// TrustedOrigins are origins (scheme://host[:port]) besides the
	// server's own whose browsers may send mutations, e.g. the public URL
	// of a proxy that rewrites the Host header.
	TrustedOrigins []string
}

// Deps are the server's collaborators, built by cmd/tokenledger.
type Deps struct {
	Commands  *commands.Handler
	Tokens    *tokenset.Set
	Directory *directory.Directory
	Audit     *auditlog.Log
	Runner    *projections.Runner
	Source    projections.Source
	// Store loads one aggregate's events, to check its hash chain.
	Store commands.EventStore
	// Health reports why the ledger cannot accept writes (nil when it can).
	Health func() error
	Log    *slog.Logger
	// Telemetry feeds the metrics that read state outside the server.
	Telemetry Telemetry

	// Integrity serves checkpoints, proofs and bundles; nil: those routes
	// answer 404.
	Integrity Integrity
	// Staleness is how old the replica's view of the stream may be: the
	// time since it last knew it had applied everything stored (0 when it
	// cannot fall behind, e.g. an embedded server). Nil: 0.
	Staleness func() time.Duration
	// TreeHead, when set, waits until the signed tree head kept outside
	// the data dir covers a sequence: an acknowledged write waits for it
	// after the projections applied the write.
	TreeHead func(ctx context.Context, seq uint64) error
	// HistoryUnchecked, when set, reports whether the stored history the
	// service restored a snapshot over is still being checked (the
	// whole-log check after a start): the audit trail's routes then answer
	// 503, since a record deleted while the ledger was stopped cannot be
	// noticed by a read that does not ask for it. Nil: never.
	HistoryUnchecked func() bool
}

// Server serves the API. Build it with New; it is an http.Handler.
type Server struct {
	cfg Config
	// bodies finds Config.SecretBodies in client text (nil when none).
	bodies  *needles
	cmd     *commands.Handler
	tokens  *tokenset.Set
	dir     *directory.Directory
	audit   *auditlog.Log
	runner  *projections.Runner
	source  projections.Source
	store   commands.EventStore
	health  func() error
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	// csrf refuses cross-origin mutations from browsers.
	csrf *http.CrossOriginProtection
	// unauth limits the token oracles per client address; writes limits
	// mutations per principal. nil: off.
	unauth *keyedLimiter
	writes *keyedLimiter
	// heavy holds a slot per whole-ledger read running (heavyRead).
	heavy chan struct{}
	// longReads counts each principal's exports and whole-ledger answers
	// (longRead).
	longReads longReads
	// started is set by MarkStarted once start-up work (the default
	// catalogue, INIT_* tokens) is done; until then the API answers 503.
	started atomic.Bool

	// integrity serves the Merkle tree's routes (nil: none).
	integrity Integrity
	// staleness reports how stale reads may be (nil: never stale);
	// digests caches the state digest (replica.go).
	staleness func() time.Duration
	digests   digests
	// treeHead: see Deps.TreeHead (nil: none).
	treeHead func(ctx context.Context, seq uint64) error
	// historyUnchecked: see Deps.HistoryUnchecked (nil: never).
	historyUnchecked func() bool
}

// MarkStarted tells the server that start-up is complete: from now on it
// serves the API (while the projections follow the stream).
func (s *Server) MarkStarted() { s.started.Store(true) }

// New builds the server. It panics on missing dependencies and on a
// malformed trusted origin.
func New(cfg Config, d Deps) *Server {
	if d.Commands == nil || d.Tokens == nil || d.Directory == nil || d.Audit == nil || d.Runner == nil || d.Source == nil || d.Store == nil {
		panic("httpapi: missing dependency")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 5 * time.Second
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = 2*cfg.WriteWait + 15*time.Second
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Health == nil {
		d.Health = func() error { return nil }
	}
	s := &Server{cfg: cfg, cmd: d.Commands, tokens: d.Tokens, dir: d.Directory, audit: d.Audit,
		runner: d.Runner, source: d.Source, store: d.Store, health: d.Health, log: d.Log, mux: http.NewServeMux()}
	s.bodies = newNeedles(cfg.SecretBodies)
	s.cfg.SecretBodies = nil
	s.integrity = d.Integrity
	s.staleness = d.Staleness
	s.treeHead = d.TreeHead
	s.historyUnchecked = d.HistoryUnchecked
	s.metrics = newMetrics(s, d.Telemetry)
	s.csrf = http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			panic("httpapi: trusted origin: " + err.Error())
		}
	}
	s.unauth = newKeyedLimiter(cfg.UnauthRate, cfg.UnauthBurst, cfg.MaxLimiterKeys)
	s.writes = newKeyedLimiter(cfg.MutationRate, cfg.MutationBurst, cfg.MaxLimiterKeys)
	s.heavy = make(chan struct{}, heavyReadSlots)
	s.routes()
	return s
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc(healthPattern, s.handleHealth)
	m.HandleFunc(readyPattern, s.handleReady)
	m.Handle(metricsPattern, s.metrics.handler())
	m.HandleFunc("GET /openapi.json", s.handleOpenAPI)
	m.HandleFunc("GET /schemas/events", s.handleEventSchemas)
	m.HandleFunc("GET /schemas/events/{name}", s.handleEventSchema)
	m.HandleFunc(edgeValidatePattern, s.handleEdgeValidate)

	m.HandleFunc("GET /api/admin/api-tokens", s.authed(s.listTokens))
	m.HandleFunc("POST /api/admin/api-tokens", s.authed(s.createToken))
	m.HandleFunc("GET /api/admin/api-tokens/{name}", s.authed(s.tokensByName))
	m.HandleFunc("PUT /api/admin/api-tokens/{token}", s.authed(s.updateTokenExpiry))
	m.HandleFunc("DELETE /api/admin/api-tokens/{token}", s.authed(s.deleteToken))

	m.HandleFunc("GET /api/admin/projects/{projectId}/api-tokens", s.authed(s.listProjectTokens))
	m.HandleFunc("POST /api/admin/projects/{projectId}/api-tokens", s.authed(s.createProjectToken))
	m.HandleFunc("DELETE /api/admin/projects/{projectId}/api-tokens/{token}", s.authed(s.deleteProjectToken))

	m.HandleFunc("GET /api/admin/user", s.authed(s.getMe))
	m.HandleFunc("GET /api/admin/user/tokens", s.authed(s.listPATs))
	m.HandleFunc("POST /api/admin/user/tokens", s.authed(s.createPAT))
	m.HandleFunc("DELETE /api/admin/user/tokens/{id}", s.authed(s.deletePAT))

	m.HandleFunc("GET /api/admin/service-account", s.admin(s.listServiceAccounts))
	m.HandleFunc("POST /api/admin/service-account", s.admin(s.createServiceAccount))
	m.HandleFunc("PUT /api/admin/service-account/{id}", s.admin(s.updateServiceAccount))
	m.HandleFunc("DELETE /api/admin/service-account/{id}", s.admin(s.deleteServiceAccount))
	m.HandleFunc("GET /api/admin/service-account/{id}/token", s.admin(s.listServiceAccountTokens))
	m.HandleFunc("POST /api/admin/service-account/{id}/token", s.admin(s.createServiceAccountToken))
	m.HandleFunc("DELETE /api/admin/service-account/{id}/token/{tokenId}", s.admin(s.deleteServiceAccountToken))
	m.HandleFunc("PUT /api/admin/service-account/{id}/token/{tokenId}", s.admin(s.updateServiceAccountToken))

	m.HandleFunc("GET /api/admin/user-admin", s.admin(s.listUsers))
	m.HandleFunc("POST /api/admin/user-admin", s.admin(s.createUser))
	m.HandleFunc("GET /api/admin/user-admin/{id}", s.admin(s.getUser))
	m.HandleFunc("PUT /api/admin/user-admin/{id}", s.admin(s.updateUser))
	m.HandleFunc("DELETE /api/admin/user-admin/{id}", s.admin(s.deleteUser))
	m.HandleFunc("POST /api/admin/user-admin/{id}/tokens", s.authed(s.createPATOnBehalf))
	m.HandleFunc("GET /api/admin/user-admin/{id}/tokens", s.admin(s.listUserPATs))
	m.HandleFunc("PUT /api/admin/user-admin/{id}/tokens/{tokenId}", s.admin(s.updateUserPAT))
	m.HandleFunc("DELETE /api/admin/user-admin/{id}/tokens/{tokenId}", s.admin(s.deleteUserPAT))

	m.HandleFunc("GET /api/admin/roles", s.admin(s.listRoles))
	m.HandleFunc("POST /api/admin/roles", s.admin(s.createRole))
	m.HandleFunc("GET /api/admin/roles/{id}", s.admin(s.getRole))
	m.HandleFunc("PUT /api/admin/roles/{id}", s.admin(s.updateRole))
	m.HandleFunc("DELETE /api/admin/roles/{id}", s.admin(s.deleteRole))

	m.HandleFunc("GET /api/admin/projects", s.authed(s.listProjects))
	m.HandleFunc("POST /api/admin/projects", s.admin(s.createProject))
	m.HandleFunc("PUT /api/admin/projects/{projectId}", s.admin(s.updateProject))
	m.HandleFunc("DELETE /api/admin/projects/{projectId}", s.admin(s.deleteProject))
	m.HandleFunc("POST /api/admin/projects/{projectId}/users/{userId}/roles/{roleId}", s.admin(s.addProjectUser))
	m.HandleFunc("DELETE /api/admin/projects/{projectId}/users/{userId}/roles/{roleId}", s.admin(s.removeProjectUser))
	m.HandleFunc("POST /api/admin/projects/{projectId}/service-accounts/{saId}/roles/{roleId}", s.admin(s.addProjectServiceAccount))
	m.HandleFunc("DELETE /api/admin/projects/{projectId}/service-accounts/{saId}/roles/{roleId}", s.admin(s.removeProjectServiceAccount))

	m.HandleFunc("GET /api/admin/environments", s.authed(s.listEnvironments))
	m.HandleFunc("POST /api/admin/environments", s.admin(s.createEnvironment))
	m.HandleFunc("PUT /api/admin/environments/update/{name}", s.admin(s.updateEnvironment))
	m.HandleFunc("DELETE /api/admin/environments/{name}", s.admin(s.deleteEnvironment))

	m.HandleFunc("GET /api/ledger/events", s.auditor(s.queryEvents))
	m.HandleFunc("GET /api/ledger/tokens", s.admin(s.ledgerTokens))
	m.HandleFunc("GET /api/ledger/tokens/{id}/history", s.auditor(s.tokenHistory))
	m.HandleFunc("GET /api/ledger/tokens/{id}", s.authed(s.getLedgerToken))
	m.HandleFunc("POST /api/ledger/tokens/lookup", s.admin(s.lookupToken))
	m.HandleFunc("GET /api/ledger/state", s.auditor(s.stateAt))
	m.HandleFunc("GET /api/ledger/state/tokens/{id}", s.auditor(s.stateOfToken))
	m.HandleFunc("GET /api/ledger/checkpoint", s.auditor(s.getCheckpoint))
	m.HandleFunc("GET /api/ledger/events/{seq}/proof", s.auditor(s.eventProof))
	m.HandleFunc("GET /api/ledger/proof/consistency", s.auditor(s.consistencyProof))
	m.HandleFunc("GET /api/ledger/bundle", s.auditor(s.getBundle))
	m.HandleFunc("POST /api/ledger/introspect", s.handleIntrospect) // RFC 7662 (oauth.go)
	m.HandleFunc("POST /api/ledger/revoke", s.handleRevoke)         // RFC 7009 (oauth.go)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, notFound("No route for this method and path; see the README for the API"))
	})
}

// Probe routes: answered to anyone, logged at DEBUG (a kubelet and a
// scraper call them every few seconds).
const (
	healthPattern  = "GET /health"
	readyPattern   = "GET /ready"
	metricsPattern = "GET /metrics"
)

// edgeValidatePattern is Unleash Edge's validation route: its answers 200
// are logged at DEBUG too (see accessLogLevel).
const edgeValidatePattern = "POST /edge/validate"

// handleHealth is liveness: the process is up and serves HTTP. It answers
// 200 during a long replay and while the ledger refuses writes (a restart
// would not help either); /ready tells whether to send traffic.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	// Nothing that changes with the ledger: the probe is anonymous, and a
	// sequence here would let anyone watch every write as it happens. A
	// tampered stream is the exception: the projections stopped for good
	// at that sequence, and whoever watches the probe must learn it.
	if te := events.AsTamper(s.runner.Err()); te != nil {
		writeJSON(w, http.StatusOK, tamperBody(te))
		return
	}
	if bearer(r) != "" {
		// An admin sees the replica's sequence and state digest.
		s.admin(s.replicaHealth)(w, r)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"health": "GOOD"})
}

// tamperBody is the probes' answer once the projections stopped on
// evidence of tampering: the kind and the first sequence concerned.
func tamperBody(te *events.TamperError) map[string]any {
	return map[string]any{"health": "LEDGER_TAMPERED", "seq": te.Seq, "kind": te.Kind,
		"reason": fmt.Sprintf("the stream is not the history the ledger wrote: %s event at sequence %d; the projections stopped there (see the log)", te.Kind, te.Seq)}
}

// handleReady is readiness: 200 once the projections caught up with the
// stream and follow it, start-up work is done and the stream is
// audit-grade (the ledger accepts writes); else 503 naming the reason.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	// notReady answers 503 naming the state; with Retry-After only where
	// waiting ends it (see stoppedForGood).
	notReady := func(state, reason string, cause error) {
		if !s.stoppedForGood(cause) {
			w.Header().Set("Retry-After", "1")
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"health": state, "reason": reason,
			"lastApplied": s.runner.LastApplied()})
	}
	if te := events.AsTamper(s.runner.Err()); te != nil {
		// No Retry-After: the projections stopped for good (see
		// writeNotServing).
		body := tamperBody(te)
		body["lastApplied"] = s.runner.LastApplied()
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	if err := s.runner.Err(); err != nil {
		// The cause is in the log (once per probe would flood it).
		notReady("PROJECTIONS_STOPPED", "the projections stopped following the stream; the log names the cause", err)
		return
	}
	if !s.runner.Ready() {
		notReady("STARTING", "replaying the stream into the projections", nil)
		return
	}
	if !s.started.Load() {
		notReady("STARTING", "importing the default catalogue and INIT_* tokens", nil)
		return
	}
	if err := s.health(); err != nil {
		notReady("LEDGER_REFUSES_WRITES", err.Error(), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"health": "GOOD", "lastApplied": s.runner.LastApplied()})
}

// encodeJSON is v as writeJSON writes it, in a buffer of its own.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return b.Bytes()
}

// writeJSONBytes writes body, JSON that encodeJSON made.
func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// handlerFunc is a route that has an authenticated principal and returns
// its error instead of writing it.
type handlerFunc func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error
