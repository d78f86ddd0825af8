package httpapi

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/tokenledger/tokenledger/events"
)

// handleEventSchemas lists the JSON Schemas of the events (one per type and
// schema version). Like /openapi.json it needs no credential: consumers in
// any language generate decoders from them.
func (s *Server) handleEventSchemas(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_ = json.NewEncoder(w).Encode(map[string]any{"schemas": events.SchemaNames()})
}

// handleEventSchema serves one event schema, by file name
// (<type>.v<version>.json).
func (s *Server) handleEventSchema(w http.ResponseWriter, r *http.Request) {
	b, ok := events.Schema(r.PathValue("name"))
	if !ok {
		s.writeError(w, r, notFound("Could not find the event schema"))
		return
	}
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

// isSchemaPath reports whether path is one of the event schema routes,
// static documents served also while the ledger starts.
func isSchemaPath(path string) bool {
	return path == "/schemas/events" || strings.HasPrefix(path, "/schemas/events/")
}
