package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// ServeHTTP implements http.Handler: request id, panic recovery, the
// readiness gate, the routes, and one access-log line per request. Logs
// name the route pattern, never the path: a path may hold a full secret.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method == http.MethodPost && r.URL.Path == "/edge/validate" && r.URL.RawPath == "" {
		// The route Unleash Edge calls all the time, with the same gates
		// and less per-request work (edge_serve.go).
		s.serveEdge(w, r, start)
		return
	}
	id := s.newRequestID(r)
	w.Header().Set("X-Request-Id", echoRequestID(r, id))
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
	r = s.hashBody(r)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "panic", v, "route", r.Pattern, "request_id", id, "stack", string(debug.Stack()))
			s.writeError(sw, r, errors.New("panic"))
		}
		took := time.Since(start)
		method := metricMethod(r.Method)
		if level := accessLogLevel(r.Pattern, sw.status); s.log.Enabled(r.Context(), level) {
			s.log.LogAttrs(r.Context(), level, "request", slog.String("method", method), slog.String("route", logRoute(r.Pattern)),
				slog.Int("status", sw.status), slog.Int64("ms", took.Milliseconds()), slog.String("request_id", id))
		}
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
	if r.URL.Path != "/health" && r.URL.Path != "/ready" && r.URL.Path != "/metrics" && r.URL.Path != "/openapi.json" && !isSchemaPath(r.URL.Path) {
		if !s.serving() {
			s.writeNotServing(sw)
			return
		}
		setStaleness(sw, s.staleness)
	}
	s.mux.ServeHTTP(sw, r)
}

// serving reports whether the API may answer: until the projections
// caught up (or after they stopped), tokens would look unknown and
// listings incomplete, so it answers nothing rather than something wrong.
func (s *Server) serving() bool {
	return s.runner.Err() == nil && s.runner.Ready() && s.started.Load()
}

// writeNotServing is the answer while the API may not answer (serving):
// with Retry-After while the projections replay the ledger, without once
// they stopped (on evidence of tampering, say), which waiting does not
// mend: only a restart does, and a client that honours Retry-After (the
// CLI's verify and export) reports the answer at once.
func (s *Server) writeNotServing(w http.ResponseWriter) {
	if s.stoppedForGood(nil) {
		what := "its projections stopped and stay stopped"
		if s.runner.Err() == nil {
			what = "its store failed closed and refuses changes" // while still replaying
		}
		writeJSON(w, http.StatusServiceUnavailable, newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
			"tokenledger is not serving: "+what+" until an operator's repair and a restart; /ready and the log name the cause"))
		return
	}
	w.Header().Set("Retry-After", "1")
	writeJSON(w, http.StatusServiceUnavailable, newError(http.StatusServiceUnavailable, "ServiceUnavailableError",
		"tokenledger is not serving yet: its projections are replaying the ledger; see /ready"))
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
// is: 1 to 128 letters, digits and "._-", without a run of hex digits as
// long as a secret's (it goes into the audit record and the log). No
// colon: every secret of Unleash's shape has one ("user:…",
// "project:environment.…"). Any other value is replaced by an id of the
// ledger's own.
func safeRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range []byte(id) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return !hasSecretHex(id)
}

// echoRequestID is the X-Request-Id of the answer: the client's own when
// safeRequestID accepts it, else the ledger's (id). It does not depend on
// the token-set lookup newRequestID makes, so the echo tells nobody whether
// a string is a secret.
func echoRequestID(r *http.Request, id string) string {
	if c := r.Header.Get("X-Request-Id"); safeRequestID(c) {
		return c
	}
	return id
}

// newRequestID is the request's id as the log and the events' via record
// it: the client's X-Request-Id when safeRequestID accepts it and no part
// of it is a secret the token set holds, else a random one of the ledger's
// own.
func (s *Server) newRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); safeRequestID(id) && !s.heldPart(id) {
		return id
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func requestID(r *http.Request) string {
	id, _ := r.Context().Value(requestIDKey{}).(string)
	return id
}

// accessLogLevel is the level of a request's access-log line: DEBUG for
// probes and scrapes, and for the validations Unleash Edge sends all the
// time that were answered 200 (their count is in the request metrics);
// INFO for everything else, a refused validation (a guess that ran out of
// budget, a malformed body) included.
func accessLogLevel(pattern string, status int) slog.Level {
	switch pattern {
	case healthPattern, readyPattern, metricsPattern:
		return slog.LevelDebug
	case edgeValidatePattern:
		if status == http.StatusOK {
			return slog.LevelDebug
		}
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
	if r.Header["Origin"] == nil && r.Header["Sec-Fetch-Site"] == nil {
		// What every client that is not a browser sends (Unleash Edge,
		// SDKs, scripts): nothing to check, without the lookups below.
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
