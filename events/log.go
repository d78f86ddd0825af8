package events

// KindLog is the aggregate kind of the ledger's own events about the log
// itself: key rotations (aggregate "key") and checkpoints.
const KindLog = "log"

// Key rotation.
const (
	// TypeKeyRotated: the ledger's signing key changed.
	TypeKeyRotated = "key.rotated"
	// KeyAggregate is the aggregate id of every key.rotated event.
	KeyAggregate = "key"
)

// KeyRotated records that the ledger signs with a new key from the next
// event on. It is signed by the previous key, which it names, so that a
// verifier holding any key of the chain can follow it: Previous and Key
// are note verifier keys ("<name>+<8-hex id>+<base64>").
type KeyRotated struct {
	Previous string `json:"previous"`
	Key      string `json:"key"`
}

func (KeyRotated) EventType() string     { return TypeKeyRotated }
func (KeyRotated) AggregateKind() string { return KindLog }
func (KeyRotated) SchemaVersion() int    { return 1 }

func init() {
	register[KeyRotated](1, nil)
}
