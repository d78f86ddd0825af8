package jsstore

import (
	"fmt"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
)

// signerBox holds the store's signer for atomic replacement.
type signerBox struct{ s events.Signer }

// SetSigner makes the store sign every event it appends from now on with
// s (the ledger's key); nil stops signing. A key rotation appends its
// key.rotated event signed by the old key, then sets the new one.
func (s *Store) SetSigner(signer events.Signer) {
	if signer == nil {
		s.signer.Store(nil)
		return
	}
	s.signer.Store(&signerBox{signer})
}

// signBatch signs each event of batch with the store's signer, in order.
// An event sealed for the signer's key ([events.Envelope.SealFor], what the
// command handler does) keeps its hash. Any other event gets the key and so
// a new hash: a later event of the batch that links to the old hash (Prev)
// is relinked to the new one and sealed again before it is signed, so
// every aggregate's chain stays intact.
func (s *Store) signBatch(batch []commands.Append) error {
	box := s.signer.Load()
	if box == nil {
		return nil
	}
	var relinked map[string]string
	for i := range batch {
		env := &batch[i].Event
		if h, ok := relinked[env.Prev]; ok && env.Prev != "" {
			env.Prev = h
			if err := env.SealFor(box.s.ID()); err != nil {
				return fmt.Errorf("jsstore: append: %w", err)
			}
		}
		old := env.Hash
		if err := env.Sign(box.s); err != nil {
			return fmt.Errorf("jsstore: append: %w", err)
		}
		if env.Hash != old {
			if relinked == nil {
				relinked = make(map[string]string, len(batch))
			}
			relinked[old] = env.Hash
		}
	}
	return nil
}

// SignerID is the ID of the key the store signs appended events with, ""
// when it does not sign: the command handler seals events for it
// ([events.Envelope.SealFor]) so that they are hashed once.
func (s *Store) SignerID() string {
	if box := s.signer.Load(); box != nil {
		return box.s.ID()
	}
	return ""
}
