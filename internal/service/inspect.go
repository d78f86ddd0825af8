package service

import (
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSServer is the embedded NATS server, nil when NATS is external or
// Run has not started it. Tests read its monitoring (Jsz) through it.
func (m *Main) NATSServer() *server.Server { return m.nats }

// Conn is the ledger's own NATS connection, the one that owns the LEDGER
// stream; nil before Run connected. Tests use it to act as an operator
// with access to the stream.
func (m *Main) Conn() *nats.Conn { return m.nc }
