package directory

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"maps"
	"slices"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// digestVersion names the encoding below; change it with the encoding.
const digestVersion = "directory-digest/v1"

// Digest is the lowercase hex SHA-256 of the whole state: LastApplied and
// every user, service account and role (by IntID), project (by id, members
// by kind and id) and environment (by name) with every field, deleted ones
// included. Two Directories that applied the same events have the same
// Digest; one that applied one more event (of any kind: LastApplied is
// state) has another.
//
// The encoding is deterministic but not a wire format: compare digests of
// one build, do not store them.
func (d *Directory) Digest() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var w digester
	w.str(digestVersion)
	w.uint(d.last)

	w.uint(uint64(len(d.userOrder)))
	for _, u := range d.userOrder {
		w.str(u.ID)
		w.uint(u.IntID)
		w.str(u.Username)
		w.str(u.Email)
		w.str(u.Name)
		w.str(u.RootRole)
		w.time(u.CreatedAt)
		w.bool(u.Deleted)
	}
	w.uint(uint64(len(d.accountOrder)))
	for _, a := range d.accountOrder {
		w.str(a.ID)
		w.uint(a.IntID)
		w.str(a.Name)
		w.str(a.Username)
		w.str(a.RootRole)
		w.time(a.CreatedAt)
		w.bool(a.Deleted)
	}
	w.uint(uint64(len(d.roleOrder)))
	for _, r := range d.roleOrder {
		w.str(r.ID)
		w.uint(r.IntID)
		w.str(r.Name)
		w.str(r.Type)
		w.str(r.Description)
		w.uint(uint64(len(r.Permissions)))
		for _, p := range r.Permissions {
			w.str(p)
		}
		w.time(r.CreatedAt)
		w.bool(r.Deleted)
	}
	w.uint(uint64(len(d.projects)))
	for _, id := range slices.Sorted(maps.Keys(d.projects)) {
		p := d.projects[id]
		w.str(p.ID)
		w.str(p.Name)
		w.str(p.Description)
		w.time(p.CreatedAt)
		w.bool(p.Deleted)
		members := slices.SortedFunc(maps.Keys(p.Members), func(a, b events.Owner) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
		})
		w.uint(uint64(len(members)))
		for _, m := range members {
			w.str(m.Kind)
			w.str(m.ID)
			w.str(p.Members[m])
		}
	}
	w.uint(uint64(len(d.envs)))
	for _, name := range slices.Sorted(maps.Keys(d.envs)) {
		e := d.envs[name]
		w.str(e.Name)
		w.str(e.Type)
		w.time(e.CreatedAt)
	}
	sum := sha256.Sum256(w.buf)
	return hex.EncodeToString(sum[:])
}

// digester appends an unambiguous encoding: strings are length-prefixed,
// times are UTC RFC 3339 with nanoseconds (location and monotonic reading
// are not state).
type digester struct{ buf []byte }

func (d *digester) uint(v uint64) { d.buf = binary.AppendUvarint(d.buf, v) }

func (d *digester) str(v string) {
	d.uint(uint64(len(v)))
	d.buf = append(d.buf, v...)
}

func (d *digester) bool(v bool) {
	if v {
		d.buf = append(d.buf, 1)
	} else {
		d.buf = append(d.buf, 0)
	}
}

func (d *digester) time(t time.Time) { d.str(t.UTC().Format(time.RFC3339Nano)) }
