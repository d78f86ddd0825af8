package directory

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/projections/internal/snapenc"
)

// snapshotVersion names the encoding of AppendSnapshot.
const snapshotVersion = 1

// AppendSnapshot appends the Directory's whole state at
// [Directory.LastApplied] to b in the compact binary form
// [Directory.RestoreSnapshot] reads: users, service accounts and roles in
// creation order, projects (by id) with their members (by kind and id),
// environments (by name). The encoding is deterministic, so it is also
// what [Directory.Digest] hashes. It is not authenticated: whoever stores
// it must.
func (d *Directory) AppendSnapshot(b []byte) []byte {
	d.mu.RLock()
	defer d.mu.RUnlock()
	w := snapenc.Writer{B: b}
	w.Uint(snapshotVersion)
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
		writeStrings(&w, r.Permissions)
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
	return w.B
}

// writeStrings writes a list, keeping nil apart from empty (0 is nil).
func writeStrings(w *snapenc.Writer, ss []string) {
	if ss == nil {
		w.Uint(0)
		return
	}
	w.Uint(uint64(len(ss)) + 1)
	for _, s := range ss {
		w.Str(s)
	}
}

func readStrings(r *snapenc.Reader) []string {
	n := r.Count(2)
	if n == 0 {
		return nil
	}
	out := make([]string, n-1)
	for i := range out {
		out[i] = r.Str()
	}
	return out
}

// RestoreSnapshot loads the state [Directory.AppendSnapshot] wrote into d,
// which must be empty (new). On error d is left empty.
func (d *Directory) RestoreSnapshot(b []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.last != 0 {
		return errors.New("directory: restore a snapshot into a directory that applied events")
	}
	if err := d.restore(snapenc.NewReader(b)); err != nil {
		n := New()
		d.last, d.userOrder, d.accountOrder, d.roleOrder = 0, nil, nil, nil
		d.users, d.userSeq, d.byUsername, d.byEmail = n.users, n.userSeq, n.byUsername, n.byEmail
		d.accounts, d.accountSeq, d.roles, d.roleSeq, d.projects, d.envs = n.accounts, n.accountSeq, n.roles, n.roleSeq, n.projects, n.envs
		return fmt.Errorf("directory: restore snapshot: %w", err)
	}
	return nil
}

func (d *Directory) restore(r *snapenc.Reader) error {
	if v := r.Uint(); r.Err() == nil && v != snapshotVersion {
		return fmt.Errorf("%w: version %d, this build reads %d", snapenc.ErrCorrupt, v, snapshotVersion)
	}
	last := r.Uint()
	corrupt := func(what, id string) error {
		return fmt.Errorf("%w: %s %q twice or out of order", snapenc.ErrCorrupt, what, id)
	}
	for range r.Count(8) {
		u := &User{ID: r.Str(), IntID: r.Uint(), Username: r.Str(), Email: r.Str(), Name: r.Str(), RootRole: r.Str(),
			CreatedAt: r.Time(), Deleted: r.Bool()}
		if r.Err() != nil {
			return r.Err()
		}
		if d.users[u.ID] != nil || u.IntID > last || (len(d.userOrder) > 0 && d.userOrder[len(d.userOrder)-1].IntID >= u.IntID) {
			return corrupt("user", u.ID)
		}
		d.users[u.ID] = u
		d.userSeq[u.IntID] = u
		d.userOrder = append(d.userOrder, u)
		if u.Username != "" {
			d.byUsername[u.Username] = append(d.byUsername[u.Username], u)
		}
		if u.Email != "" {
			k := strings.ToLower(u.Email)
			d.byEmail[k] = append(d.byEmail[k], u)
		}
	}
	for range r.Count(8) {
		a := &ServiceAccount{ID: r.Str(), IntID: r.Uint(), Name: r.Str(), Username: r.Str(), RootRole: r.Str(),
			CreatedAt: r.Time(), Deleted: r.Bool()}
		if r.Err() != nil {
			return r.Err()
		}
		if d.accounts[a.ID] != nil || a.IntID > last || (len(d.accountOrder) > 0 && d.accountOrder[len(d.accountOrder)-1].IntID >= a.IntID) {
			return corrupt("service account", a.ID)
		}
		d.accounts[a.ID] = a
		d.accountSeq[a.IntID] = a
		d.accountOrder = append(d.accountOrder, a)
	}
	for range r.Count(8) {
		ro := &Role{ID: r.Str(), IntID: r.Uint(), Name: r.Str(), Type: r.Str(), Description: r.Str(),
			Permissions: readStrings(r), CreatedAt: r.Time(), Deleted: r.Bool()}
		if r.Err() != nil {
			return r.Err()
		}
		if d.roles[ro.ID] != nil || ro.IntID > last || (len(d.roleOrder) > 0 && d.roleOrder[len(d.roleOrder)-1].IntID >= ro.IntID) {
			return corrupt("role", ro.ID)
		}
		d.roles[ro.ID] = ro
		d.roleSeq[ro.IntID] = ro
		d.roleOrder = append(d.roleOrder, ro)
	}
	for range r.Count(6) {
		p := &Project{ID: r.Str(), Name: r.Str(), Description: r.Str(), CreatedAt: r.Time(), Deleted: r.Bool(),
			Members: map[events.Owner]string{}}
		for range r.Count(6) {
			m := events.Owner{Kind: r.Str(), ID: r.Str()}
			p.Members[m] = r.Str()
		}
		if r.Err() != nil {
			return r.Err()
		}
		if d.projects[p.ID] != nil {
			return corrupt("project", p.ID)
		}
		d.projects[p.ID] = p
	}
	for range r.Count(4) {
		e := &Environment{Name: r.Str(), Type: r.Str(), CreatedAt: r.Time()}
		if r.Err() != nil {
			return r.Err()
		}
		if d.envs[e.Name] != nil {
			return corrupt("environment", e.Name)
		}
		d.envs[e.Name] = e
	}
	if err := r.End(); err != nil {
		return err
	}
	d.last = last
	return nil
}
