package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// eventsHolding names the events appended after seq before whose JSON,
// with the invisible characters drop removed, holds canary.
func eventsHolding(t *testing.T, s *servicetest.Service, before uint64, canary string, drop ...string) []string {
	t.Helper()
	var pairs []string
	for _, d := range drop {
		pairs = append(pairs, d, "")
	}
	clean := strings.NewReplacer(pairs...)
	var out []string
	for _, e := range s.Events(before+1, s.LastSeq()) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(clean.Replace(string(b)), canary) {
			out = append(out, fmt.Sprintf("%s at seq %d", e.Type, e.Sequence))
		}
	}
	return out
}
