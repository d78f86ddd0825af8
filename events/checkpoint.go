package events

// The log's own events: records the ledger appends about the stream itself
// rather than about an aggregate of the token model. They are leaves of the
// Merkle tree like every other event, and they chain per aggregate like
// every other event.
// KindLog is defined in log.go.
const (
	// CheckpointAggregate is the aggregate id of every log.checkpoint
	// event: the checkpoints form one chain.
	CheckpointAggregate = "checkpoint"
	// TypeCheckpoint is the type of a signed checkpoint of the Merkle tree.
	TypeCheckpoint = "log.checkpoint"
)

// Checkpoint records a signed checkpoint of the RFC 6962 Merkle tree over
// the stream: the tree of the first Size stream messages (sequences 1 to
// Size) has the root Root. Note is the C2SP tlog-checkpoint signed note
// ("<origin>\n<size>\n<base64 root>\n", a blank line, signature lines)
// signed with the ledger key; Size and Root repeat its body so that
// readers need not parse the note. The ledger appends it with the
// expectation that the stream's last sequence is Size, so an honest
// checkpoint event always sits at sequence Size+1.
type Checkpoint struct {
	Size int64  `json:"size"`
	Root string `json:"root"` // base64 (standard, padded) of the 32-byte root hash
	Note string `json:"note"`
}

// EventType implements Payload.
func (Checkpoint) EventType() string { return TypeCheckpoint }

// AggregateKind implements Payload.
func (Checkpoint) AggregateKind() string { return KindLog }

// SchemaVersion implements Payload.
func (Checkpoint) SchemaVersion() int { return 1 }

func init() {
	register[Checkpoint](1, nil)
}
