package events

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
)

// schemaFiles holds a JSON Schema (draft 2020-12) of every event type and
// schema version: the envelope with its data, one file each, named
// <type>.v<version>.json. The tests check every golden file against its
// schema, and that the files of the current versions match the Go types.
//
//go:embed schema/*.json
var schemaFiles embed.FS

// SchemaName is the file name of the JSON Schema of eventType at version.
func SchemaName(eventType string, version int) string {
	return fmt.Sprintf("%s.v%d.json", eventType, version)
}

// Schema returns the JSON Schema named name (see [SchemaName]), so that
// consumers in any language can decode events. The schema validates an
// event as the ledger stores it and as the readers' feed carries it
// (without the actor's name, request context and hash chain).
func Schema(name string) ([]byte, bool) {
	b, err := fs.ReadFile(schemaFiles, "schema/"+name)
	return b, err == nil
}

// SchemaNames lists the names of every event schema, sorted.
func SchemaNames() []string {
	entries, _ := fs.ReadDir(schemaFiles, "schema")
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	slices.Sort(out)
	return out
}
