package cli

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"slices"
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

	_ integrity.UnsignedLimiter = keyChain{}
	_ integrity.Pinner          = keyChain{}
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

// UnsignedThrough implements integrity.UnsignedLimiter.
func (k keyChain) UnsignedThrough() (uint64, bool) { return k.c.UnsignedThrough() }

// Pins implements integrity.Pinner: the prefixes the anchoring key
// history pinned.
func (k keyChain) Pins() []integrity.Pin {
	var pins []integrity.Pin
	for _, p := range k.c.Pins() {
		pins = append(pins, integrity.Pin(p))
	}
	return pins
}

// CurrentKey implements integrity.KeyTracker: the ID of the key the chain
// has reached.
func (k keyChain) CurrentKey() string { return k.c.CurrentID() }

// KnownKey implements integrity.KeyTracker.
func (k keyChain) KnownKey(id string) (ed25519.PublicKey, bool) { return k.c.KnownKey(id) }

// keyHistoryBeside is the ledger's key history beside keyFile (whose
// content is skey), which verify --data-dir without --key trusts with the
// key file: nil (said on stderr) when there is none; an error when it is
// not sealed by that key (edited, another key's, or planted).
func keyHistoryBeside(env *Env, keyFile string, skey []byte) (*ledgerkey.History, error) {
	hfile := ledgerkey.HistoryFile(keyFile)
	b, err := integrity.ReadKeptFile(hfile, ledgerkey.MaxHistoryBytes)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintln(env.Stderr, "tokenledger: no key history beside the key file: the first signed event may be signed by any key a key.rotated names")
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	key, err := ledgerkey.Parse(string(skey))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	h, err := ledgerkey.OpenHistory(b, key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", hfile, err)
	}
	return &h, nil
}

// keyHistoryOfGivenKey is the key history beside keyFile when the key
// file's verifier key is one of the keys given (vkeys, whitespace
// separated): nil when it is another key's, unreadable (said on stderr),
// or has no history beside it; an error when the history is not sealed
// by that key (as for the start).
func keyHistoryOfGivenKey(env *Env, keyFile, vkeys string) (*ledgerkey.History, error) {
	b, err := integrity.ReadKeptFile(keyFile, integrity.MaxNoteBytes)
	if err != nil {
		fmt.Fprintln(env.Stderr, "tokenledger: the key file beside the data dir cannot be read; its key history is not used:", inert(err.Error(), 512))
		return nil, nil
	}
	k, err := integrity.VerifierKeyOf(string(b))
	if err != nil || !slices.Contains(strings.Fields(vkeys), k) {
		fmt.Fprintln(env.Stderr, "tokenledger: the key file beside the data dir is not of a key given; its key history is not used")
		return nil, nil
	}
	return keyHistoryBeside(env, keyFile, b)
}

// withHistoryKeys is vkey (the key file's verifier key) and every other
// key the key history lists: the keys the ledger signed with, its
// checkpoints before a rotation by the retired ones, as the start takes
// them (rotatedKeys). A checkpoint by a retired key still vouches only for
// records before that key's rotation (integrity.KeyTracker).
func withHistoryKeys(vkey string, anchor *ledgerkey.History) string {
	if anchor == nil {
		return vkey
	}
	keys := strings.Fields(vkey)
	for _, k := range anchor.Keys {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	return strings.Join(keys, " ")
}
