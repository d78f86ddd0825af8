package service

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/tokenledger/tokenledger/internal/jsstore"
)

// Back-off between attempts to open the stream on a cluster that cannot
// answer yet (nodes starting, a leader being elected).
const (
	openFirstBackoff = 250 * time.Millisecond
	openMaxBackoff   = 5 * time.Second
	// openAttemptTimeout bounds one attempt to open the stream.
	openAttemptTimeout = 15 * time.Second
	// durabilityTimeout bounds the durability check.
	durabilityTimeout = 10 * time.Second
)

// openStore opens the ledger stream. On an external NATS (--nats-url) a
// cluster that cannot answer yet, because its nodes are starting or
// electing a leader, is waited for, with back-off and a WARN line per
// attempt, until ctx ends; /ready says STARTING meanwhile. Refusals that
// waiting cannot change (configuration, permissions, versions) return at
// once. The replica count of a stream this process creates is
// --nats-replicas, or the cluster's size up to 3.
func (m *Main) openStore(ctx context.Context) (*jsstore.Store, error) {
	cfg := jsstore.Config{Replicas: m.Config.Replicas, OwnsServer: m.nats != nil, Log: m.log}
	if m.nats != nil {
		return jsstore.Open(ctx, m.nc, cfg)
	}
	backoff := openFirstBackoff
	for attempt := 1; ; attempt++ {
		cfg.Replicas = m.Config.NATSReplicas
		if cfg.Replicas <= 0 {
			cfg.Replicas = jsstore.ClusterReplicas(m.nc)
		}
		var st *jsstore.Store
		var err error
		if m.nc.Status() != nats.CONNECTED {
			// Open's checks need a server's answers (and its header support).
			err = fmt.Errorf("not connected to any NATS server yet: %w", nats.ErrNoServers)
		} else {
			// Each attempt is bounded: a request sent while the cluster has
			// no meta leader is never answered.
			actx, cancel := context.WithTimeout(ctx, openAttemptTimeout)
			st, err = jsstore.Open(actx, m.nc, cfg)
			cancel()
		}
		if err == nil {
			if err := m.checkDurability(ctx, st); err != nil {
				_ = st.Close()
				return nil, err
			}
			return st, nil
		}
		if !jsstore.Transient(err) || ctx.Err() != nil {
			return nil, err
		}
		m.starting.Store(&startState{reason: "waiting for the NATS JetStream cluster to answer (the log names the cause)"})
		m.log.Warn("the NATS JetStream cluster cannot open the ledger stream yet; retrying", "attempt", attempt, "in", backoff,
			"err", err, "nats_status", natsState(m.nc.Status()), "replicas", cfg.Replicas)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("open the ledger stream: %w (last attempt: %w)", ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, openMaxBackoff)
	}
}

// checkDurability refuses to run on a stream that could lose
// acknowledged events (one replica on a cluster; a replica's server not
// syncing every write, or its sync setting unproven because no
// --nats-system-url gives a system account connection to read it),
// unless --allow-unsafe-durability, which turns the refusal into an ERROR
// line. A stream it finds replicated on a cluster stays guarded while the
// ledger runs: st refuses writes while it has fewer than 2 replicas.
func (m *Main) checkDurability(ctx context.Context, st *jsstore.Store) error {
	ctx, cancel := context.WithTimeout(ctx, durabilityTimeout)
	defer cancel()
	var sys *nats.Conn
	if m.Config.NATSSystemURL != "" {
		c, err := nats.Connect(m.Config.NATSSystemURL, nats.Name("tokenledger-durability-check"), nats.ErrorHandler(m.natsErrors))
		if err != nil {
			return fmt.Errorf("connect to NATS system account at %s: %w", redactURLs(m.Config.NATSSystemURL), err)
		}
		defer c.Close()
		sys = c
	}
	d, err := jsstore.CheckDurability(ctx, m.nc, sys, jsstore.DefaultStream)
	var de *jsstore.DurabilityError
	switch {
	case errors.As(err, &de) && m.Config.AllowUnsafeDurability:
		m.log.Error("UNSAFE DURABILITY: acknowledged events can be lost; running only because --allow-unsafe-durability is set",
			"problems", de.Problems, "replicas", d.Replicas)
	case err != nil:
		return err
	default:
		m.log.Info("ledger stream durability checked", "replicas", d.Replicas, "servers_sync_always", len(d.SyncAlways))
	}
	if d.Clustered && d.Replicas >= 2 {
		st.GuardReplicas(2)
	}
	return nil
}

// startState is why the service is not serving yet.
type startState struct{ reason string }

// startingHandler answers while the API is not built yet (the stream is
// being opened, the cluster awaited): /health 200, /ready 503 with the
// reason, everything else 503 in the API's error shape, with Retry-After.
func (m *Main) startingHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		reason := "opening the ledger stream"
		if s := m.starting.Load(); s != nil {
			reason = s.reason
		}
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(`{"health":"GOOD"}` + "\n"))
			return
		case "/ready":
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, `{"health":"STARTING","reason":%q}`+"\n", reason)
			return
		}
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = fmt.Fprintf(w, `{"id":"starting","name":"ServiceUnavailableError","message":"tokenledger is starting: %s; nothing was changed","details":[{"message":"tokenledger is starting; see /ready"}]}`+"\n", reason)
	})
}

// swapHandler serves the starting handler until the API is set.
type swapHandler struct {
	h atomic.Pointer[http.Handler]
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// DefaultNATSPingInterval is Config.NATSPingInterval's default: a replica
// behind a silent partition (nothing answers, nothing closes) notices
// within two to three of them, reports "not connected to NATS" and
// refuses writes at once (the client library's own default is 2 minutes).
const DefaultNATSPingInterval = 10 * time.Second

// minNATSPingInterval is the shortest --nats-ping-interval: below it the
// pings outrun their answers (two unanswered count as a dead server) and a
// replica on a healthy server reconnects over and over.
const minNATSPingInterval = 100 * time.Millisecond
