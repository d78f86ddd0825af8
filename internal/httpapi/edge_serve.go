package httpapi

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
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
	ew := edgeWriters.Get().(*edgeWriter)
	*ew = edgeWriter{ResponseWriter: w, s: s, r: r}
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
		if level := accessLogLevel(edgeValidatePattern, ew.status); ew.logs(level) {
			s.log.LogAttrs(r.Context(), level, "request", slog.String("method", http.MethodPost), slog.String("route", edgeValidatePattern),
				slog.Int("status", ew.status), slog.Int64("ms", took.Milliseconds()), slog.String("request_id", ew.requestID()))
		}
		s.metrics.observe(edgeValidatePattern, http.MethodPost, ew.status, took)
		*ew = edgeWriter{} // holds nothing of the request while pooled
		edgeWriters.Put(ew)
	}()
	if err := s.checkOrigin(r); err != nil {
		s.writeError(ew, r, err)
		return
	}
	if !s.serving() {
		s.writeNotServing(ew)
		return
	}
	setStaleness(ew, s.staleness)
	s.handleEdgeValidate(ew, r)
}

// edgeWriter is serveEdge's statusWriter: it records the status and adds
// the X-Request-Id header to an answer whose access-log line is written.
// serveEdge takes it from edgeWriters and puts it back when done (no
// handler keeps its ResponseWriter past its return).
type edgeWriter struct {
	http.ResponseWriter
	s      *Server
	r      *http.Request
	status int
	id     string
	// level and logged are the last answer of logs, when checked.
	checked bool
	level   slog.Level
	logged  bool
}

var edgeWriters = sync.Pool{New: func() any { return new(edgeWriter) }}

// logs reports whether the logger writes lines at level, asking it once
// per request and level (the header and the access line ask the same).
func (w *edgeWriter) logs(level slog.Level) bool {
	if !w.checked || w.level != level {
		w.checked, w.level, w.logged = true, level, w.s.log.Enabled(w.r.Context(), level)
	}
	return w.logged
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
		if w.logs(accessLogLevel(edgeValidatePattern, code)) {
			w.Header().Set("X-Request-Id", echoRequestID(w.r, w.requestID()))
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
