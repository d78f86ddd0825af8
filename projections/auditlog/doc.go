// Package auditlog is the audit log projection: an index of every event of
// the LEDGER stream by event type, aggregate kind, actor (id and name),
// credential, project, environment and time, for cursor-paginated queries
// in either order and streamed exports.
//
// The log keeps no payload: per event it holds its time and its place in a
// few compressed sequence sets (roaring bitmaps), about 35 bytes an event;
// pages and exports read the events themselves back from the stream
// (Direct Get batches, through a [Reader]), and the events of one
// aggregate come from the stream's own subject index. Every event is
// indexed, including types this build does not know, so no stream event is
// ever missing from the audit trail. Token events are indexed under their
// token's projects and environment, carried over from its token.created and
// token.scoped events, so "every event touching project X" is one query.
//
// Apply depends only on the event and the prior state and is idempotent by
// stream sequence, like every projection.
package auditlog
