package cli

import (
	"crypto/ed25519"
	"strings"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/integrity"
	"github.com/tokenledger/tokenledger/internal/ledgerkey"
)

// keyChain checks per-event signatures for verify (integrity.Signatures)
// with the ledger's key chain: the events after the last verified
// checkpoint must each be signed by the ledger's current key
// (env.CheckSignature through ledgerkey.Chain), and key.rotated events
// move the current key on, those a checkpoint covers included
// (integrity.KeyFollower).
type keyChain struct{ c *ledgerkey.Chain }

var (
	_ integrity.Signatures  = keyChain{}
	_ integrity.KeyFollower = keyChain{}
	_ integrity.Prechecker  = keyChain{}
	_ integrity.KeyTracker  = keyChain{}
)

// newKeyChain starts the chain at the verifier keys given (whitespace
// separated): the first signed event verify checks one by one must be
// signed by one of them, or by a key a covered key.rotated event named.
func newKeyChain(vkeys string) (keyChain, error) {
	c, err := ledgerkey.NewChain(strings.Fields(vkeys)...)
	if err != nil {
		return keyChain{}, err
	}
	return keyChain{c}, nil
}

// Check implements integrity.Signatures.
func (k keyChain) Check(env *events.Envelope) error { return k.c.Check(*env) }

// Precheck implements integrity.Prechecker: the hashes and signatures of a
// run of events, on all CPUs.
func (k keyChain) Precheck(envs []events.Envelope) { k.c.Precheck(envs) }

// Covered implements integrity.KeyFollower: the checkpoint proved the
// rotation, so its keys are learnt and the chain follows it without
// checking its signature.
func (k keyChain) Covered(env *events.Envelope) error {
	if err := k.c.Learn([]events.Envelope{*env}); err != nil {
		return err
	}
	k.c.TrustThrough(env.Sequence)
	return k.c.Check(*env)
}

// CurrentKey implements integrity.KeyTracker: the ID of the key the chain
// has reached.
func (k keyChain) CurrentKey() string { return k.c.CurrentID() }

// KnownKey implements integrity.KeyTracker.
func (k keyChain) KnownKey(id string) (ed25519.PublicKey, bool) { return k.c.KnownKey(id) }
