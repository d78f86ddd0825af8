// Package directory is the read model of principals and catalogue: users,
// service accounts, custom roles, projects with their members, and
// environments, as the LEDGER stream recorded them.
//
// A [Directory] is fed events in stream order through [Directory.Apply].
// It owns the aggregate kinds user, serviceaccount, role, project and
// environment; events of other kinds (tokens, bootstrap, …) change nothing
// but advance [Directory.LastApplied], so the directory can wait for any
// sequence a command returned (read-your-writes). Apply depends only on the
// event and the prior state and is idempotent by stream sequence; two
// replays of one stream yield the same [Directory.Digest].
//
// Users, service accounts and roles carry an IntID: the stream sequence of
// their created event. It is the integer id Unleash's API shows for them;
// it is unique across all three kinds and never reused.
//
// Deleted users, service accounts, roles and projects stay in the directory
// with Deleted set: lookups by id return them (an API can answer "gone"
// and audit views can name them), lists and login lookups leave them out.
// Deleting a user or service account also ends its project memberships.
// Predefined roles (Admin, Editor, Viewer, Owner, Member) have no events
// and are not in the directory.
//
// The package imports only events; every lookup returns a copy that the
// caller may keep and change.
package directory
