package httpapi_test

import (
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/service"
	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// 356842d extends noSecretIn to projects, roles, users and service
// accounts, but not to environments: an environment's name is an id
// (letters, digits, '_' and '-', up to 100), which a generated secret's 64
// hex digits fit. It is stored in the stream and shown in the trail, the
// feed and every token's environment.
func TestEnvironmentNameNeverStoresALiveSecret(t *testing.T) {
	s := servicetest.StartWith(t, "", nil, func(c *service.Config) { c.MutationRate = 0 })
	live, _ := s.CreateToken("backend", "development") // stays live: the canary
	hex := live[strings.LastIndexByte(live, '.')+1:]
	before := s.LastSeq()
	r := s.Do("POST", "/api/admin/environments", servicetest.AdminSecret, map[string]any{"name": hex, "type": "test"})
	if r.Status >= 500 {
		t.Fatalf("status %d: %.300s", r.Status, r.Body)
	}
	for _, at := range eventsHolding(t, s, before, hex) {
		t.Errorf("the stream's %s holds the live secret's 64 hex digits as an environment's name (answer %d)", at, r.Status)
	}
}
