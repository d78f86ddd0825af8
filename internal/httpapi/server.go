// Package httpapi is tokenledger's HTTP surface: Unleash's token routes
// (answers that validate against Unleash's own schemas), the principal and
// catalogue routes, /edge/validate, and ledger-native routes for the audit
// trail. Every mutation is one command; its event records the caller and the
// credential it came through. Every error has one JSON shape.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections"
	"github.com/tokenledger/tokenledger/projections/auditlog"
	"github.com/tokenledger/tokenledger/projections/directory"
	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// Config holds the server's settings. The zero value is usable: no auth
// proxy, 64 KiB bodies, 5 s read-your-writes wait.
type Config struct {
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
}

// Server serves the API. Build it with New; it is an http.Handler.
type Server struct {
	cfg     Config
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
	// started is set by MarkStarted once start-up work (the default
	// catalogue, INIT_* tokens) is done; until then the API answers 503.
	started atomic.Bool
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
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Health == nil {
		d.Health = func() error { return nil }
	}
	s := &Server{cfg: cfg, cmd: d.Commands, tokens: d.Tokens, dir: d.Directory, audit: d.Audit,
		runner: d.Runner, source: d.Source, store: d.Store, health: d.Health, log: d.Log, mux: http.NewServeMux()}
	s.metrics = newMetrics(s, d.Telemetry)
	s.csrf = http.NewCrossOriginProtection()
	for _, o := range cfg.TrustedOrigins {
		if err := s.csrf.AddTrustedOrigin(o); err != nil {
			panic("httpapi: trusted origin: " + err.Error())
		}
	}
	s.unauth = newKeyedLimiter(cfg.UnauthRate, cfg.UnauthBurst, cfg.MaxLimiterKeys)
	s.writes = newKeyedLimiter(cfg.MutationRate, cfg.MutationBurst, cfg.MaxLimiterKeys)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler: request id, panic recovery, the
// readiness gate, the routes, and one access-log line per request. Logs
// name the route pattern, never the path: a path may hold a full secret.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := r.Header.Get("X-Request-Id")
	if !safeRequestID(id) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header().Set("X-Request-Id", id)
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	r = s.hashBody(r)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "panic", v, "route", r.Pattern, "request_id", id)
			s.writeError(sw, r, errors.New("panic"))
		}
		took := time.Since(start)
		method := metricMethod(r.Method)
		s.log.Log(r.Context(), accessLogLevel(r.Pattern), "request", "method", method, "route", logRoute(r.Pattern),
			"status", sw.status, "ms", took.Milliseconds(), "request_id", id)
		s.metrics.observe(r.Pattern, method, sw.status, took)
	}()
	if !canonicalPath(r) {
		// ServeMux would redirect (307, an HTML body), a DELETE included:
		// a client must name the resource it means.
		s.writeError(sw, r, notFound("No route for this path: the path is not in canonical form (no empty, . or .. segments)"))
		return
	}
	if err := s.checkOrigin(r); err != nil {
		s.writeError(sw, r, err)
		return
	}
	if r.URL.Path != "/health" && r.URL.Path != "/ready" && r.URL.Path != "/metrics" && r.URL.Path != "/openapi.json" {
		if err := s.runner.Err(); err != nil || !s.runner.Ready() || !s.started.Load() {
			// Until the projections caught up (or after they stopped), tokens
			// would look unknown and listings incomplete: answer nothing
			// rather than something wrong.
			sw.Header().Set("Retry-After", "1")
			writeJSON(sw, http.StatusServiceUnavailable, newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
				"tokenledger is not serving: its projections are replaying the ledger or stopped; see /ready"))
			return
		}
	}
	s.mux.ServeHTTP(sw, r)
}

// statusWriter records the status for the access log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type requestIDKey struct{}

// safeRequestID reports whether a client's X-Request-Id may be used as it
// is: 1 to 128 letters, digits and "._:-" (it goes into the audit record and
// the log). Any other value is replaced by an id of the ledger's own.
func safeRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc(healthPattern, s.handleHealth)
	m.HandleFunc(readyPattern, s.handleReady)
	m.Handle(metricsPattern, s.metrics.handler())
	m.HandleFunc("GET /openapi.json", s.handleOpenAPI)
	m.HandleFunc("POST /edge/validate", s.handleEdgeValidate)

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

	m.HandleFunc("GET /api/ledger/events", s.admin(s.queryEvents))
	m.HandleFunc("GET /api/ledger/tokens", s.admin(s.ledgerTokens))
	m.HandleFunc("GET /api/ledger/tokens/{id}/history", s.admin(s.tokenHistory))
	m.HandleFunc("GET /api/ledger/tokens/{id}", s.authed(s.getLedgerToken))
	m.HandleFunc("POST /api/ledger/tokens/lookup", s.admin(s.lookupToken))
	m.HandleFunc("GET /api/ledger/state", s.admin(s.stateAt))

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

// accessLogLevel is the level of a request's access-log line: DEBUG for
// probes and scrapes, INFO for everything else.
func accessLogLevel(pattern string) slog.Level {
	switch pattern {
	case healthPattern, readyPattern, metricsPattern:
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// logRoute is the access log's route: the matched pattern with its method,
// or "unmatched" for the catch-all and for requests refused before routing.
func logRoute(pattern string) string {
	if pattern == "" || pattern == "/" {
		return "unmatched"
	}
	return pattern
}

// handleHealth is liveness: the process is up and serves HTTP. It answers
// 200 during a long replay and while the ledger refuses writes (a restart
// would not help either); /ready tells whether to send traffic.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	// Nothing that changes with the ledger: the probe is anonymous, and a
	// sequence here would let anyone watch every write as it happens.
	writeJSON(w, http.StatusOK, map[string]any{"health": "GOOD"})
}

// handleReady is readiness: 200 once the projections caught up with the
// stream and follow it, start-up work is done and the stream is
// audit-grade (the ledger accepts writes); else 503 naming the reason.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	notReady := func(state, reason string) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"health": state, "reason": reason,
			"lastApplied": s.runner.LastApplied()})
	}
	if err := s.runner.Err(); err != nil {
		// The cause is in the log (once per probe would flood it).
		notReady("PROJECTIONS_STOPPED", "the projections stopped following the stream; the log names the cause")
		return
	}
	if !s.runner.Ready() {
		notReady("STARTING", "replaying the stream into the projections")
		return
	}
	if !s.started.Load() {
		notReady("STARTING", "importing the default catalogue and INIT_* tokens")
		return
	}
	if err := s.health(); err != nil {
		notReady("LEDGER_REFUSES_WRITES", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"health": "GOOD", "lastApplied": s.runner.LastApplied()})
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

// authed authenticates a request, then applies, in order: the per-address
// limit of failed bearer authentications (checked before the credential is
// looked at, so an address out of tokens learns nothing), the CSRF content-type
// rule for the auth-proxy header, the per-principal limit of mutations and
// the X-Ledger-Min-Sequence wait (only for an authenticated caller).
// admin is authed for the routes only an Admin may use: the route table
// says so once, and the handler needs no check of its own.
func (s *Server) admin(h handlerFunc) http.HandlerFunc {
	return s.authed(func(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
		if err := requireAdmin(p); err != nil {
			return err
		}
		return h(w, r, p)
	})
}

func (s *Server) authed(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := s.authedPrelude(w, r, h); err != nil {
			s.writeError(w, r, err)
		}
	}
}

func (s *Server) authedPrelude(w http.ResponseWriter, r *http.Request, h handlerFunc) error {
	now := time.Now()
	addr := s.clientKey(r)
	// Only a presented credential can be guessed. Sign-ins through the
	// auth proxy are never limited here: they would otherwise share the
	// proxy's address with everyone's failures.
	guessable := bearer(r) != ""
	if guessable {
		if wait := s.unauth.blocked(addr, now); wait > 0 {
			return tooManyRequests(w, wait, "Too many failed authentications from this address; retry after the time in Retry-After")
		}
	}
	p, err := s.authenticate(r)
	if err != nil {
		var ae *apiError
		if guessable && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			s.unauth.charge(addr, 1, time.Now())
		}
		return err
	}
	mutation := !safeMethod(r.Method)
	if mutation && p.Via.CredentialType == "auth-proxy" && !jsonContentType(r) {
		// The auth-proxy header rides on the browser's single-sign-on
		// session, so it is the one credential a cross-site page can make a
		// browser send. A page cannot send application/json cross-site
		// without a CORS preflight, which this server never grants.
		return newError(http.StatusUnsupportedMediaType, "ContentTypeError",
			"Content-Type must be application/json on every change made through the single-sign-on proxy, a body-less one included")
	}
	if mutation {
		if wait, ok := s.writes.take(p.Kind+"\x00"+p.ID, now); !ok {
			return tooManyRequests(w, wait, "Too many changes by this principal; retry after the time in Retry-After")
		}
	}
	if v := r.Header.Get("X-Ledger-Min-Sequence"); v != "" {
		// Read-your-writes across requests (and, with several replicas,
		// across nodes): wait until the projections applied the sequence a
		// write answered with. Only an authenticated caller may make the
		// server wait.
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return badRequest("X-Ledger-Min-Sequence", "X-Ledger-Min-Sequence must be a stream sequence (a non-negative integer)")
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteWait)
		err = s.runner.WaitFor(ctx, seq)
		cancel()
		if err != nil {
			w.Header().Set("Retry-After", "1")
			return newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
				"the projections have not reached X-Ledger-Min-Sequence yet; retry")
		}
	}
	return h(w, r, p)
}

// safeMethod reports whether a method only reads.
func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func jsonContentType(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// checkOrigin refuses a browser's cross-origin mutation (net/http's
// CrossOriginProtection: Sec-Fetch-Site, else Origin against Host), and
// any mutation whose Origin, when sent, is neither the server's own nor a
// trusted one. Clients that are not browsers send neither header and pass.
func (s *Server) checkOrigin(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	deny := func() error {
		return newError(http.StatusForbidden, "CrossOriginRequestError",
			"Cross-origin changes are refused: send the request from the ledger's own origin or from a client that is not a browser")
	}
	if err := s.csrf.Check(r); err != nil {
		return deny()
	}
	if o := r.Header.Get("Origin"); o != "" && !slices.Contains(s.cfg.TrustedOrigins, o) {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return deny()
		}
	}
	return nil
}

// canonicalPath reports whether the path is what ServeMux would route
// without redirecting: no empty, "." or ".." segments.
func canonicalPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// afterWrite makes a mutation's answer read-your-writes: it waits until the
// projections applied seq, and tells the client the sequence.
func (s *Server) afterWrite(w http.ResponseWriter, r *http.Request, res commands.Result) {
	w.Header().Set("X-Ledger-Sequence", itoa(res.Seq))
	if res.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.WriteWait)
	defer cancel()
	if err := s.runner.WaitFor(ctx, res.Seq); err != nil {
		// The event is stored; only the read model lags. Say so rather than
		// pretend the write failed.
		s.log.Warn("projection lagging behind write", "seq", res.Seq, "err", err)
	}
}

// written finishes a mutation that answers 200 with an empty body.
func (s *Server) written(w http.ResponseWriter, r *http.Request, res commands.Result, err error) error {
	if err != nil {
		return err
	}
	s.afterWrite(w, r, res)
	w.WriteHeader(http.StatusOK)
	return nil
}
