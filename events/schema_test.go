package events_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/feed"
)

// schemaFor is the JSON Schema of p's envelope at p's current version,
// derived from the Go types: the envelope's own members (those the feed
// leaves out are optional; more optional members may come, so others are
// allowed) and the payload's exact members.
func schemaFor(p events.Payload) map[string]any {
	str := map[string]any{"type": "string"}
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"title":       "tokenledger event " + p.EventType() + " v" + itoa(p.SchemaVersion()),
		"description": "stored on subject ledger." + p.AggregateKind() + ".<aggregate>." + events.EventName(p.EventType()),
		"type":        "object",
		"required":    []string{"id", "type", "v", "kind", "aggregate", "time", "actor", "via", "data"},
		"properties": map[string]any{
			"id":        str,
			"type":      map[string]any{"const": p.EventType()},
			"v":         map[string]any{"const": p.SchemaVersion()},
			"kind":      map[string]any{"const": p.AggregateKind()},
			"aggregate": str,
			"time":      map[string]any{"type": "string", "format": "date-time"},
			"command":   str,
			"actor":     typeSchema(reflect.TypeOf(events.Actor{}), true),
			"via":       typeSchema(reflect.TypeOf(events.Via{}), true),
			"reason":    str,
			"data":      typeSchema(reflect.TypeOf(p), false),
			"prev":      str,
			"hash":      str,
			"fmt":       map[string]any{"const": events.FormatJCS}, // absent: format 1
			"key":       str,
			"sig":       str,
		},
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var timeType = reflect.TypeOf(time.Time{})

// typeSchema is the schema of how encoding/json encodes t; open allows
// members not in t.
func typeSchema(t reflect.Type, open bool) map[string]any {
	switch {
	case t == timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case t.Kind() == reflect.Pointer:
		s := typeSchema(t.Elem(), open)
		s["type"] = []any{s["type"], "null"}
		return s
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int64, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Slice:
		return map[string]any{"type": []any{"array", "null"}, "items": typeSchema(t.Elem(), open)}
	case reflect.Map: // string keys
		return map[string]any{"type": []any{"object", "null"}, "additionalProperties": typeSchema(t.Elem(), open)}
	case reflect.Struct:
		props := map[string]any{}
		required := []string{}
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			s := typeSchema(f.Type, open)
			if strings.Contains(opts, "omitempty") {
				switch f.Type.Kind() { // omitted, never null
				case reflect.Pointer:
					s["type"] = typeSchema(f.Type.Elem(), open)["type"]
				case reflect.Slice:
					s["type"] = "array"
				case reflect.Map:
					s["type"] = "object"
				}
			} else if f.Type.Kind() != reflect.Pointer {
				required = append(required, name)
			}
			props[name] = s
		}
		// The feed leaves out the actor's name and the request context.
		if t == reflect.TypeOf(events.Actor{}) {
			required = []string{"kind", "id"}
		}
		return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": open}
	}
	panic("schema: no rule for " + t.String())
}

func schemaPath(name string) string { return filepath.Join("schema", name) }

// Every type and version has a schema (old versions keep theirs), and the
// schemas of the current versions are those of the Go types (run go test
// ./events -update after a payload change, which needs a new version).
func TestSchema_EveryVersionHasOneMatchingTheGoTypes(t *testing.T) {
	for _, typ := range events.Types() {
		for _, v := range events.Versions(typ) {
			if _, ok := events.Schema(events.SchemaName(typ, v)); !ok {
				t.Errorf("%s v%d has no schema in events/schema", typ, v)
			}
		}
	}
	for _, p := range samples {
		name := events.SchemaName(p.EventType(), p.SchemaVersion())
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		if err := enc.Encode(schemaFor(p)); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(schemaPath(name), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := events.Schema(name)
		if !ok || !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%s differs from the Go types (run go test ./events -update, and add a version if the payload changed)", name)
		}
	}
}

// compileSchemas compiles every embedded schema.
func compileSchemas(t *testing.T) map[string]*jsonschema.Schema {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	out := map[string]*jsonschema.Schema{}
	for _, name := range events.SchemaNames() {
		b, _ := events.Schema(name)
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		url := "https://tokenledger.invalid/schemas/events/" + name
		if err := c.AddResource(url, doc); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		s, err := c.Compile(url)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

// Every golden file, as the ledger stores it and as the readers' feed
// carries it, validates against the schema of its type and version; an
// event with a member its payload does not have, or without a required
// one, does not.
func TestSchema_EveryGoldenFileValidatesStoredAndAsTheFeedCarriesIt(t *testing.T) {
	schemas := compileSchemas(t)
	files, err := filepath.Glob("testdata/*.golden.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			stored, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			env, err := events.Unmarshal(stored)
			if err != nil {
				t.Fatal(err)
			}
			s := schemas[events.SchemaName(env.Type, env.Version)]
			if s == nil {
				t.Fatalf("no schema for %s v%d", env.Type, env.Version)
			}
			fed, err := json.Marshal(feed.NewEnvelope(&env))
			if err != nil {
				t.Fatal(err)
			}
			for form, b := range map[string][]byte{"stored": stored, "feed": fed} {
				inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Validate(inst); err != nil {
					t.Errorf("%s form does not validate: %v", form, err)
				}
			}
			var m map[string]any
			if err := json.Unmarshal(stored, &m); err != nil {
				t.Fatal(err)
			}
			m["data"].(map[string]any)["unexpected"] = true
			if err := s.Validate(m); err == nil {
				t.Error("an unknown payload member validates")
			}
			delete(m, "aggregate")
			if err := s.Validate(m); err == nil {
				t.Error("an event without its aggregate validates")
			}
		})
	}
}
