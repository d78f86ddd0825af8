package events

// StoredUnder reports whether subject is the subject the event derives
// ([Envelope.Subject]): the subject a record holding it must be stored
// under. It compares piece by piece, without building the subject.
//
// The stream subject is not covered by the event's hash, its signature or
// the Merkle leaf (all over the data bytes); a record stored under another
// subject was moved there, and the subject-filtered reads (an aggregate's
// events, the optimistic-concurrency checks, the feed) no longer see it
// where its aggregate is.
func (e *Envelope) StoredUnder(subject string) bool {
	return SubjectIs(subject, e.AggregateKind, e.AggregateID, e.Type)
}

// SubjectIs reports whether subject equals Subject(kind, id, eventType).
func SubjectIs(subject, kind, id, eventType string) bool {
	name := EventName(eventType)
	if len(subject) != len(SubjectPrefix)+len(kind)+len(id)+len(name)+3 {
		return false
	}
	s := subject
	for i, part := range [...]string{SubjectPrefix, kind, id, name} {
		if s[:len(part)] != part {
			return false
		}
		s = s[len(part):]
		if i < 3 {
			if s[0] != '.' {
				return false
			}
			s = s[1:]
		}
	}
	return true
}
