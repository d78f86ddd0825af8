package httpapi

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// routePattern is a ServeMux pattern with a method, e.g.
// "DELETE /api/admin/api-tokens/{token}".
var routePattern = regexp.MustCompile(`^(GET|HEAD|POST|PUT|PATCH|DELETE) (/\S*)$`)

// registeredRoutes returns every route pattern written in the package's
// source (not its tests): each string literal that is a ServeMux pattern
// with a method, wherever it is (a m.HandleFunc call, a table of routes),
// so a refactoring of how routes are registered does not hide one. It
// fails on a registration without a method other than the catch-all "/".
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if n.Kind != token.STRING {
					return true
				}
				v, err := strconv.Unquote(n.Value)
				if err == nil && routePattern.MatchString(v) {
					out = append(out, v)
				}
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Handle" && sel.Sel.Name != "HandleFunc") || len(n.Args) == 0 {
					return true
				}
				lit, ok := n.Args[0].(*ast.BasicLit)
				if !ok {
					return true
				}
				v, _ := strconv.Unquote(lit.Value)
				if v != "/" && !routePattern.MatchString(v) {
					t.Errorf("%s: route %q is registered without a method: give it one and describe it in openapi.json", fset.Position(lit.Pos()), v)
				}
			}
			return true
		})
	}
	slices.Sort(out)
	return slices.Compact(out)
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// normalRoute is "METHOD /path" with every path parameter's name dropped:
// OpenAPI forbids two paths that differ only in a parameter's name, which
// ServeMux allows for different methods.
func normalRoute(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

func loadOwnDocument(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValidOpenAPI31(t *testing.T) {
	doc := loadOwnDocument(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi.json declares %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not valid OpenAPI: %v", err)
	}
}

// Every route the server registers is described in openapi.json, and the
// document describes no route the server does not have.
func TestOpenAPIDocumentDescribesExactlyTheRegisteredRoutes(t *testing.T) {
	routes := registeredRoutes(t)
	if !slices.Contains(routes, "GET /health") || !slices.Contains(routes, "GET /openapi.json") || len(routes) < 50 {
		t.Fatalf("found only %d route patterns in the source (%v): the extraction is broken", len(routes), routes)
	}
	doc := loadOwnDocument(t)
	documented := map[string]string{} // normalised → as documented
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[normalRoute(method, path)] = method + " " + path
		}
	}
	registered := map[string]string{}
	for _, r := range routes {
		m := routePattern.FindStringSubmatch(r)
		registered[normalRoute(m[1], m[2])] = r
	}
	for n, r := range registered {
		if _, ok := documented[n]; !ok {
			t.Errorf("route %q is not described in openapi.json", r)
		}
	}
	for n, d := range documented {
		if _, ok := registered[n]; !ok {
			t.Errorf("openapi.json describes %q, which the server does not register", d)
		}
	}

	// The same, as ServeMux sees it: a request to each documented path
	// (parameters filled in) is routed to a pattern of the same shape.
	mux := http.NewServeMux()
	for _, r := range routes {
		mux.HandleFunc(r, func(http.ResponseWriter, *http.Request) {})
	}
	for n, d := range documented {
		method, path, _ := strings.Cut(d, " ")
		req := httptest.NewRequest(strings.ToUpper(method), pathParam.ReplaceAllString(path, "7"), nil)
		_, pattern := mux.Handler(req)
		if pattern == "" {
			t.Errorf("%s: no registered route serves it", d)
			continue
		}
		pm := routePattern.FindStringSubmatch(pattern)
		if pm == nil || normalRoute(pm[1], pm[2]) != n {
			t.Errorf("%s is served by %q, a route of another shape", d, pattern)
		}
	}
}

// Every operation documents the error shape for each error status it lists,
// and the credentials' security scheme applies unless it is public.
func TestOpenAPIDocumentErrorsAndSecurity(t *testing.T) {
	doc := loadOwnDocument(t)
	public := []string{"GET /health", "GET /ready", "GET /metrics", "GET /openapi.json", "POST /edge/validate",
		"GET /schemas/events", "GET /schemas/events/{name}", "POST /api/ledger/revoke"}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s has no operationId", name)
			}
			isPublic := slices.Contains(public, name)
			if isPublic != (op.Security != nil && len(*op.Security) == 0) {
				t.Errorf("%s: public %v, but its security is %v", name, isPublic, op.Security)
			}
			codes := op.Responses.Map()
			for _, want := range []string{"401", "403", "429", "503"} {
				if _, ok := codes[want]; !ok && !isPublic {
					t.Errorf("%s does not document %s", name, want)
				}
			}
			for code, resp := range codes {
				if code[0] != '4' && code[0] != '5' {
					continue
				}
				mt := resp.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/errorSchema" {
					t.Errorf("%s: the %s answer is not the error shape", name, code)
				}
			}
		}
	}
}
