package directory

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"

	"github.com/tokenledger/tokenledger/projections/internal/digest"
	"maps"
	"slices"

	"github.com/tokenledger/tokenledger/events"
)

// digestVersion names the encoding below; change it with the encoding.
const digestVersion = "directory-digest/v1"

// Digest is the lowercase hex SHA-256 of the whole state: LastApplied and
// every user, service account and role (by IntID), project (by id, members
// by kind and id) and environment (by name) with every field, deleted
// principals and projects included (deleted environments are removed). Two Directories that applied the same events have the same
// Digest; one that applied one more event (of any kind: LastApplied is
// state) has another.
//
// The encoding is deterministic but not a wire format: compare digests of
// one build, do not store them.
func (d *Directory) Digest() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var w digest.Buffer
	w.Str(digestVersion)
	w.Uint(d.last)

	w.Uint(uint64(len(d.userOrder)))
	for _, u := range d.userOrder {
		w.Str(u.ID)
		w.Uint(u.IntID)
		w.Str(u.Username)
		w.Str(u.Email)
		w.Str(u.Name)
		w.Str(u.RootRole)
		w.Time(u.CreatedAt)
		w.Bool(u.Deleted)
	}
	w.Uint(uint64(len(d.accountOrder)))
	for _, a := range d.accountOrder {
		w.Str(a.ID)
		w.Uint(a.IntID)
		w.Str(a.Name)
		w.Str(a.Username)
		w.Str(a.RootRole)
		w.Time(a.CreatedAt)
		w.Bool(a.Deleted)
	}
	w.Uint(uint64(len(d.roleOrder)))
	for _, r := range d.roleOrder {
		w.Str(r.ID)
		w.Uint(r.IntID)
		w.Str(r.Name)
		w.Str(r.Type)
		w.Str(r.Description)
		w.Uint(uint64(len(r.Permissions)))
		for _, p := range r.Permissions {
			w.Str(p)
		}
		w.Time(r.CreatedAt)
		w.Bool(r.Deleted)
	}
	w.Uint(uint64(len(d.projects)))
	for _, id := range slices.Sorted(maps.Keys(d.projects)) {
		p := d.projects[id]
		w.Str(p.ID)
		w.Str(p.Name)
		w.Str(p.Description)
		w.Time(p.CreatedAt)
		w.Bool(p.Deleted)
		members := slices.SortedFunc(maps.Keys(p.Members), func(a, b events.Owner) int {
			return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.ID, b.ID))
		})
		w.Uint(uint64(len(members)))
		for _, m := range members {
			w.Str(m.Kind)
			w.Str(m.ID)
			w.Str(p.Members[m])
		}
	}
	w.Uint(uint64(len(d.envs)))
	for _, name := range slices.Sorted(maps.Keys(d.envs)) {
		e := d.envs[name]
		w.Str(e.Name)
		w.Str(e.Type)
		w.Time(e.CreatedAt)
	}
	sum := sha256.Sum256(w.B)
	return hex.EncodeToString(sum[:])
}
