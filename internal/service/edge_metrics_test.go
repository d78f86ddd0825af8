package service_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// edgeMetric is the value of the /metrics line that starts with series
// (0 when there is none).
func edgeMetric(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// /edge/validate's requests, their durations and the outcome of each token
// it verifies are counted (from series looked up once, not per request),
// like every other route's.
func TestEdgeValidateIsCountedInTheMetrics(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, _ := s.CreateToken("backend", "development", "default")
	series := []string{
		`tokenledger_http_requests_total{method="POST",route="/edge/validate",status="200"}`,
		`tokenledger_http_request_duration_seconds_count{route="/edge/validate"}`,
		`tokenledger_token_verifications_total{outcome="valid"}`,
		`tokenledger_token_verifications_total{outcome="unknown"}`,
	}
	read := func() []float64 {
		body := string(s.Must(http.StatusOK, "GET", "/metrics", "", nil).Body)
		var out []float64
		for _, name := range series {
			out = append(out, edgeMetric(t, body, name))
		}
		return out
	}
	before := read()
	for range 3 {
		s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{secret}})
	}
	s.Must(http.StatusOK, "POST", "/edge/validate", "", map[string]any{"tokens": []string{"default:development.unknown-0123456789abcdef"}})
	after := read()
	for i, want := range []float64{4, 4, 3, 1} {
		if got := after[i] - before[i]; got != want {
			t.Errorf("%s grew by %v, want %v", series[i], got, want)
		}
	}
}
