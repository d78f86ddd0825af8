// Package repotest holds checks of the repository itself.
package repotest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every package has exactly one package doc comment (a "// Package x" or,
// for commands, "// Command x" comment on one of its non-test files).
func TestEveryPackageHasExactlyOnePackageDoc(t *testing.T) {
	root := filepath.Join("..", "..")
	docs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		if _, ok := docs[dir]; !ok {
			docs[dir] = nil
		}
		if f.Doc != nil && len(strings.TrimSpace(f.Doc.Text())) > 0 {
			docs[dir] = append(docs[dir], filepath.Base(path))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 10 {
		t.Fatalf("found only %d packages: the walk is blind", len(docs))
	}
	for dir, files := range docs {
		if len(files) != 1 {
			t.Errorf("%s: package doc in %d files %v, want exactly 1", dir, len(files), files)
		}
	}
}
