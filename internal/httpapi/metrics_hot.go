package httpapi

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tokenledger/tokenledger/projections/tokenset"
)

// hotMetrics are the metric series of the commonest outcomes, looked up
// once: a vector's WithLabelValues hashes its labels and takes a lock on
// every call, which /edge/validate paid three times per request (its
// counter, its duration and the verification's outcome).
type hotMetrics struct {
	edgeOK   prometheus.Counter  // requests{route="/edge/validate",method="POST",status="200"}
	edgeTook prometheus.Observer // duration{route="/edge/validate"}
	verified [tokenset.Expired + 1]prometheus.Counter
}

func newHotMetrics(m *metrics) hotMetrics {
	route := metricRoute(edgeValidatePattern)
	h := hotMetrics{
		edgeOK:   m.requests.WithLabelValues(route, http.MethodPost, strconv.Itoa(http.StatusOK)),
		edgeTook: m.duration.WithLabelValues(route),
	}
	for st := range h.verified {
		h.verified[st] = m.verified.WithLabelValues(tokenset.Status(st).String())
	}
	return h
}

// verifiedAs counts one verification with outcome st.
func (m *metrics) verifiedAs(st tokenset.Status) {
	if int(st) < len(m.hot.verified) {
		m.hot.verified[st].Inc()
		return
	}
	m.verified.WithLabelValues(st.String()).Inc()
}
