package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route of the
// server: Unleash's token routes with Unleash 8.2's own schemas, the other
// Unleash routes in Unleash's shapes, and the ledger-native routes. It is
// kept in the repository beside the code; tests check that it names every
// registered route (and nothing else) and that real answers validate
// against it.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns a copy of the OpenAPI document the server serves
// at GET /openapi.json.
func OpenAPIDocument() []byte {
	return append([]byte(nil), openAPIDocument...)
}

// handleOpenAPI serves the OpenAPI document. It needs no credential, so
// that a client can be generated from a running ledger.
func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openAPIDocument)
}
