package commands

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/events"
)

// RecordAuditRead appends an audit.queried event: who read the audit trail
// (m's actor and via), through which route, with which filters, and
// whether it was allowed. Each record is an aggregate of its own (a
// UUIDv7), so concurrent reads never conflict.
func (h *Handler) RecordAuditRead(ctx context.Context, m Meta, q events.AuditQueried) (Result, error) {
	if q.Route == "" || (q.Outcome != events.AuditAllowed && q.Outcome != events.AuditDenied) {
		return Result{}, invalid("outcome", "an audit record needs a route and an outcome")
	}
	m = h.withCommandID(m)
	id := uuid.Must(uuid.NewV7FromReader(h.rand)).String()
	env, err := h.envelope(m, id, q, "", h.Now())
	if err != nil {
		return Result{}, err
	}
	batch := []Append{{Event: env}}
	msgIDs(m, batch)
	stored, err := h.store.Append(ctx, batch...)
	if err != nil {
		return Result{}, fmt.Errorf("commands: record audit read: %w", err)
	}
	return Result{Seq: stored.Seq}, nil
}
