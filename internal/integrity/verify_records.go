package integrity

// The per-record work of a Verifier: reading each record's members and
// checking its hash, on all CPUs (AddBatch).

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	fastjson "github.com/goccy/go-json"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tokenledger/tokenledger/events"
)

// record is what the verifier reads of every event, as sub-slices of its
// stored bytes (events.Scanner) or decoded (recordJSON); the rest is
// decoded only for checkpoints, signatures, and events not on the
// scanner's path.
type record struct {
	ID, Type, Kind, Aggregate, Prev, Hash, Sig []byte
}

// recordJSON is record as the decoding path reads it.
type recordJSON struct {
	ID        string `json:"id"`
	Type      string `json:"type"`
	Kind      string `json:"kind"`
	Aggregate string `json:"aggregate"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
	Sig       string `json:"sig"`
}

// hashSuffix is how an event sealed by events.Marshal ends: its hash is
// the last member.
const hashSuffix = `,"hash":"`

// sealedExactly reports whether data ends with its hash member and the
// hash is the SHA-256 of data without that member: the bytes are then
// exactly the bytes that were sealed, which is what
// [events.Envelope.CheckHash] establishes for an event encoded by the
// ledger, at a fraction of the cost (no decode, no re-encode). Records it
// does not recognise take the full check.
func sealedExactly(data []byte, hash string) bool {
	n := len(hashSuffix) + 64 + 2 // the member, the hex hash, `"}`
	if len(hash) != 64 || len(data) < n+1 {
		return false
	}
	cut := len(data) - n
	tail := data[cut:]
	if string(tail[:len(hashSuffix)]) != hashSuffix || string(tail[len(hashSuffix):len(hashSuffix)+64]) != hash || string(tail[n-2:]) != `"}` {
		return false
	}
	h := sha256.New()
	h.Write(data[:cut])
	h.Write([]byte{'}'})
	var sum [sha256.Size]byte
	var got [2 * sha256.Size]byte
	hex.Encode(got[:], h.Sum(sum[:0]))
	return string(got[:]) == hash // lower-case hex, as CheckHash compares
}

// Add feeds the record at seq with its data bytes exactly as stored. It
// returns the first tampering found so far (a *Finding) or nil; after a
// finding further records are ignored. data must not change afterwards.
func (v *Verifier) Add(seq uint64, data []byte) error {
	if len(v.preparers) == 0 {
		v.preparers = make([]preparer, 1)
	}
	var p prepared
	p.prepare(&v.preparers[0], seq, data)
	return v.add(seq, data, &p)
}

// chunk is how many records one goroutine prepares at a time in AddBatch.
const chunk = 128

// AddBatch feeds records first, first+1, … like Add. The work on each
// record that needs no other record (its leaf hash, reading its members,
// its hash check) runs on all CPUs, chunk by chunk, while the checks that
// depend on the order (continuity, chains, the tree, checkpoints) follow
// in order as soon as each chunk is prepared.
func (v *Verifier) AddBatch(first uint64, records [][]byte) error {
	workers := max(1, min(runtime.GOMAXPROCS(0), (len(records)+chunk-1)/chunk))
	for len(v.preparers) < workers {
		v.preparers = append(v.preparers, preparer{})
	}
	if cap(v.batch) < len(records) {
		v.batch = make([]prepared, len(records))
	}
	ps := v.batch[:len(records)]
	chunks := (len(records) + chunk - 1) / chunk
	ready := make([]chan struct{}, chunks)
	for i := range ready {
		ready[i] = make(chan struct{})
	}
	var next atomic.Int64
	var stop atomic.Bool // a finding: the rest need not be prepared
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr := &v.preparers[w]
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				if !stop.Load() {
					for i := c * chunk; i < min((c+1)*chunk, len(records)); i++ {
						ps[i].prepare(pr, first+uint64(i), records[i])
					}
				}
				close(ready[c])
			}
		}()
	}
	defer wg.Wait()
	for c := range chunks {
		<-ready[c]
		for i := c * chunk; i < min((c+1)*chunk, len(records)); i++ {
			err := v.add(first+uint64(i), records[i], &ps[i])
			ps[i] = prepared{} // drop its references to records and events
			if err != nil {
				stop.Store(true)
				return err
			}
		}
	}
	return nil
}

// preparer is what one preparing goroutine reuses from record to record.
type preparer struct {
	sc   events.Scanner
	leaf leafDigest // SHA-256, for the leaf hashes (see recordHash)
}

// recordHash is tlog.RecordHash(data), SHA-256(0x00 || data), without
// allocating per record.
func (pr *preparer) recordHash(data []byte) tlog.Hash {
	if pr.leaf.h == nil {
		pr.leaf.h, pr.leaf.sum = sha256.New(), make([]byte, 0, sha256.Size)
	}
	return pr.leaf.hash(data)
}

// prepared is the work on one record that needs no other record: its leaf
// hash, reading its members, its hash check.
type prepared struct {
	leaf    tlog.Hash
	rec     record
	err     error             // the record does not decode
	badHash bool              // its hash does not match its bytes
	sum     [sha256.Size]byte // its Hash member, decoded (when the hash matched)
	env     *events.Envelope  // decoded, for a checkpoint (nil otherwise)
}

// prepare reads the record at seq: on the scanner's path (format 2 as the
// ledger writes it: members read in place, the hash computed from the
// stored bytes) or on the decoding path (format 1 sealed byte for byte,
// anything else decoded and re-encoded by CheckHash).
func (p *prepared) prepare(pr *preparer, seq uint64, data []byte) {
	p.leaf = pr.recordHash(data)
	sc := &pr.sc
	var f events.StoredFields
	sealed := false
	if sc.Scan(data, &f) {
		p.rec = record{ID: f.ID, Type: f.Type, Kind: f.Kind, Aggregate: f.Aggregate, Prev: f.Prev, Hash: f.Hash, Sig: f.Sig}
		sealed = f.Sealed()
		p.badHash = !sealed
	} else {
		var r recordJSON
		if err := fastjson.Unmarshal(data, &r); err != nil {
			p.err = err
			return
		}
		if r.Type == "" || r.Kind == "" || r.Aggregate == "" {
			p.err = errors.New("type, kind and aggregate are required")
			return
		}
		p.rec = record{ID: []byte(r.ID), Type: []byte(r.Type), Kind: []byte(r.Kind), Aggregate: []byte(r.Aggregate),
			Prev: []byte(r.Prev), Hash: []byte(r.Hash), Sig: []byte(r.Sig)}
		sealed = sealedExactly(data, r.Hash)
		if !sealed {
			e, err := events.Unmarshal(data)
			if err != nil {
				p.err = err
				return
			}
			e.Sequence = seq
			p.badHash = e.CheckHash() != nil
			sealed = !p.badHash
			p.env = &e
		}
	}
	if sealed {
		_, _ = hex.Decode(p.sum[:], p.rec.Hash) // lower-case hex of a SHA-256: the check proved it
	}
	if string(p.rec.Type) == events.TypeCheckpoint && p.env == nil && !p.badHash {
		e, err := events.Unmarshal(data)
		if err != nil {
			p.err = err
			return
		}
		e.Sequence = seq
		p.env = &e
	}
}
