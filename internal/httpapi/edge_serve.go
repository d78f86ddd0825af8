package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"
)

// serveEdge is ServeHTTP for POST /edge/validate, the route Unleash Edge
// calls all the time (issue 16, item 5): the same cross-origin check,
// readiness gate, staleness header, panic recovery, access-log line and
// metrics, without what the route does not use: no mux matching, no
// request context of its own, no Idempotency-Key hashing, and a request
// id made only when something records it. The id correlates a response
// with its log lines, so an answered validation (200), logged at DEBUG,
// carries none unless DEBUG is on; every refusal (4xx, 5xx) is logged at
// INFO and carries one whenever its line is written (the client's
// X-Request-Id when it is safe, as on every other route).
func (s *Server) serveEdge(w http.ResponseWriter, r *http.Request, start time.Time) {
	r.Pattern = edgeValidatePattern
	ew := &edgeWriter{ResponseWriter: w, s: s, r: r}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "panic", v, "route", r.Pattern, "request_id", ew.requestID(), "stack", string(debug.Stack()))
			// The panic's line above names the request; writeError would
			// log a second line without its id.
			writeJSON(ew, http.StatusInternalServerError, newError(http.StatusInternalServerError, "InternalError",
				"Internal error; nothing was changed unless a later read shows it"))
		}
		took := time.Since(start)
		if level := accessLogLevel(edgeValidatePattern, ew.status); s.log.Enabled(r.Context(), level) {
			s.log.LogAttrs(r.Context(), level, "request", slog.String("method", http.MethodPost), slog.String("route", edgeValidatePattern),
				slog.Int("status", ew.status), slog.Int64("ms", took.Milliseconds()), slog.String("request_id", ew.requestID()))
		}
		s.metrics.observe(edgeValidatePattern, http.MethodPost, ew.status, took)
	}()
	if err := s.checkOrigin(r); err != nil {
		s.writeError(ew, r, err)
		return
	}
	if !s.serving() {
		writeNotServing(ew)
		return
	}
	setStaleness(ew, s.staleness)
	s.handleEdgeValidate(ew, r)
}

// edgeWriter is serveEdge's statusWriter: it records the status and adds
// the X-Request-Id header to an answer whose access-log line is written.
type edgeWriter struct {
	http.ResponseWriter
	s      *Server
	r      *http.Request
	status int
	id     string
}

// requestID is the request's id, made on first use.
func (w *edgeWriter) requestID() string {
	if w.id == "" {
		w.id = w.s.newRequestID(w.r)
	}
	return w.id
}

func (w *edgeWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
		if w.s.log.Enabled(w.r.Context(), accessLogLevel(edgeValidatePattern, code)) {
			w.Header().Set("X-Request-Id", w.requestID())
		}
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *edgeWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

func (w *edgeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
