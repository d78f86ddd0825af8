// Package auditlog is the audit log projection: every event of the LEDGER
// stream, with who caused it (the actor) and through which credential (the
// via), indexed by aggregate, actor, credential, project, environment and
// event type for cursor-paginated queries.
//
// The log records every event, including types this build does not know
// (their payload kept raw), so no stream event is ever missing from the
// audit trail. Token events are annotated with the token's projects,
// environment and type, carried over from its token.created and
// token.scoped events, so "every event touching project X" is one query.
//
// Apply depends only on the event and the prior state and is idempotent by
// stream sequence, like every projection.
package auditlog
