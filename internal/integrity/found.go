package integrity

// Found records tampering that the reader of the records saw itself and
// Add cannot (a record stored under a subject other than its event's: the
// subject is not in the bytes, the hash or the leaf). Feed the records up
// to f.Seq first. It returns the first tampering: one the records showed
// already (at f.Seq too), f, or an earlier one the held-back evidence
// shows (a broken chain link, a bad signature).
func (v *Verifier) Found(f *Finding) error {
	if v.found != nil {
		return v.found
	}
	return v.fail(f)
}
