// Package natstest starts real, in-process nats-server instances with
// JetStream for tests. Every server listens on 127.0.0.1 with a random port,
// stores its data in a temporary directory owned by the test, logs nothing,
// leaves signal handling to the test binary, and is shut down (and waited
// for) when the test ends.
//
// Servers started here run with SyncAlways off: tests exercise semantics,
// not fsync durability. Production servers are started by
// jsstore.StartEmbedded with jsstore.DefaultEmbedded, which turns it on.
//
// There are no mocks: a test that needs JetStream gets JetStream.
package natstest
