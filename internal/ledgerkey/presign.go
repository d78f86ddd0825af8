package ledgerkey

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"sync"

	"filippo.io/edwards25519"
	"golang.org/x/mod/sumdb/note"
)

// Presigner is a note.Signer of the key that makes standard Ed25519
// signatures (crypto/ed25519.Verify and the key's note verifier accept
// them) with a nonce prepared before the message is known: the nonce's
// commitment R = r·B, the costly half of a signature, is computed by
// Prepare, off the path of whoever waits for the signature, and Sign then
// costs two SHA-512 and a scalar multiply-add.
//
// The nonce is r = SHA-512(prefix ‖ 32 random bytes) mod ℓ, where prefix
// is the secret half of the expanded key (RFC 8032's deterministic nonce
// hashes prefix ‖ message instead; a verifier cannot tell the two apart).
// Each prepared nonce signs one message and is then dropped; a nonce that
// would repeat needs crypto/rand to repeat 32 bytes. Sign prepares one
// itself when none is ready.
type Presigner struct {
	name   string
	hash   uint32
	pub    []byte
	s      *edwards25519.Scalar // the secret scalar
	prefix []byte               // the expanded key's second half
	mu     sync.Mutex
	ready  []presigned // the prepared nonces, each taken by one Sign
}

// presigned is a prepared nonce r and its commitment R = r·B, encoded.
type presigned struct {
	r      *edwards25519.Scalar
	commit []byte
}

// Presigner returns a Presigner of k.
func (k *Key) Presigner() (*Presigner, error) {
	h := sha512.Sum512(k.priv.Seed())
	s, err := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: presigner: %w", err)
	}
	return &Presigner{name: k.signer.Name(), hash: k.signer.KeyHash(), pub: []byte(k.pub), s: s,
		prefix: append([]byte(nil), h[32:]...)}, nil
}

// Name is the key's name.
func (p *Presigner) Name() string { return p.name }

// KeyHash is the key's note key hash.
func (p *Presigner) KeyHash() uint32 { return p.hash }

// Prepare computes the nonce the next Sign uses, unless one is ready.
func (p *Presigner) Prepare() error { return p.PrepareN(1) }

// PrepareN computes nonces until n are ready for the next Signs (a
// caller that prepares in batches wakes once for many signatures). Sign
// is not held up meanwhile: each nonce is computed outside the lock.
func (p *Presigner) PrepareN(n int) error {
	for p.Ready() < n {
		r, commit, err := p.nonce()
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.ready = append(p.ready, presigned{r: r, commit: commit})
		p.mu.Unlock()
	}
	return nil
}

// Ready is the number of prepared nonces.
func (p *Presigner) Ready() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}

func (p *Presigner) nonce() (*edwards25519.Scalar, []byte, error) {
	var random [32]byte
	if _, err := rand.Read(random[:]); err != nil {
		return nil, nil, fmt.Errorf("ledgerkey: nonce: %w", err)
	}
	d := sha512.New()
	d.Write(p.prefix)
	d.Write(random[:])
	r, err := edwards25519.NewScalar().SetUniformBytes(d.Sum(nil))
	if err != nil {
		return nil, nil, fmt.Errorf("ledgerkey: nonce: %w", err)
	}
	return r, new(edwards25519.Point).ScalarBaseMult(r).Bytes(), nil
}

// Sign signs msg with the prepared nonce (taken: it signs nothing else),
// or with a new one when none is ready.
func (p *Presigner) Sign(msg []byte) ([]byte, error) {
	var r *edwards25519.Scalar
	var commit []byte
	p.mu.Lock()
	if k := len(p.ready); k > 0 {
		r, commit = p.ready[k-1].r, p.ready[k-1].commit
		p.ready[k-1] = presigned{}
		p.ready = p.ready[:k-1]
	}
	p.mu.Unlock()
	if r == nil {
		var err error
		if r, commit, err = p.nonce(); err != nil {
			return nil, err
		}
	}
	d := sha512.New()
	d.Write(commit)
	d.Write(p.pub)
	d.Write(msg)
	k, err := edwards25519.NewScalar().SetUniformBytes(d.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("ledgerkey: sign: %w", err)
	}
	sig := make([]byte, 0, 64)
	sig = append(sig, commit...)
	return append(sig, edwards25519.NewScalar().MultiplyAdd(k, p.s, r).Bytes()...), nil
}

var _ note.Signer = (*Presigner)(nil)
