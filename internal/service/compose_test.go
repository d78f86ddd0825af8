package service_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// TestComposeDescribesAThreeNodeClusterAndTwoReplicas checks the
// top-level docker-compose.yml (docker compose is not available in CI):
// three nats services on the nats-server version of go.mod, each on its
// own volume, with a config that syncs every write and routes to all
// three; two tokenledger replicas built from the Dockerfile whose NATS URL
// lists all three nodes and which ask for 3 replicas.
func TestComposeDescribesAThreeNodeClusterAndTwoReplicas(t *testing.T) {
	raw, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Build       any               `yaml:"build"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github.com/nats-io/nats-server/v2 v(\S+)`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod names no nats-server version")
	}
	conf, err := os.ReadFile("../../deploy/nats.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*sync_interval:\s*always\s*$`).Match(conf) {
		t.Error("deploy/nats.conf does not set sync_interval: always")
	}
	if !regexp.MustCompile(`(?m)^\s*system_account:\s*SYS\s*$`).Match(conf) ||
		!regexp.MustCompile(`SYS\s*\{\s*users\s*\[\s*\{\s*user:\s*sys\b`).Match(conf) {
		t.Error("deploy/nats.conf gives no user sys in the system account SYS")
	}
	nodes := []string{"nats-1", "nats-2", "nats-3"}
	for _, n := range nodes {
		s, ok := doc.Services[n]
		if !ok {
			t.Fatalf("no service %s", n)
		}
		if s.Image != "nats:"+string(m[1]) {
			t.Errorf("%s runs %s, want nats:%s (go.mod)", n, s.Image, m[1])
		}
		if !strings.Contains(strings.Join(s.Volumes, " "), n+":/data") {
			t.Errorf("%s stores JetStream on %v, want its own volume at /data", n, s.Volumes)
		}
		if !strings.Contains(string(conf), "nats://"+n+":6222") {
			t.Errorf("deploy/nats.conf has no route to %s", n)
		}
	}
	for _, l := range []string{"ledger-1", "ledger-2"} {
		s, ok := doc.Services[l]
		if !ok {
			t.Fatalf("no service %s", l)
		}
		if s.Build == nil {
			t.Errorf("%s is not built from the Dockerfile", l)
		}
		url := s.Environment["TOKENLEDGER_NATS_URL"]
		for _, n := range nodes {
			if !strings.Contains(url, "@"+n+":4222") {
				t.Errorf("%s's TOKENLEDGER_NATS_URL does not list %s", l, n)
			}
		}
		if s.Environment["TOKENLEDGER_NATS_REPLICAS"] != "3" {
			t.Errorf("%s does not ask for 3 stream replicas", l)
		}
		// The durability guard refuses a cluster whose sync setting it
		// cannot read: a system-account user on every node proves it.
		sys := s.Environment["TOKENLEDGER_NATS_SYSTEM_URL"]
		for _, n := range nodes {
			if !strings.Contains(sys, "nats://sys:") || !strings.Contains(sys, "@"+n+":4222") {
				t.Errorf("%s's TOKENLEDGER_NATS_SYSTEM_URL %q does not list the system user on %s", l, sys, n)
			}
		}
		if v, ok := s.Environment["TOKENLEDGER_ALLOW_UNSAFE_DURABILITY"]; ok {
			t.Errorf("%s waives the durability guard (TOKENLEDGER_ALLOW_UNSAFE_DURABILITY=%s)", l, v)
		}
	}
}
