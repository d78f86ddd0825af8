package tokenset

import "github.com/tokenledger/tokenledger/events"

// TokenSubject is the stream subject filter of the token events.
func TokenSubject() string { return events.SubjectPrefix + "." + events.KindToken + ".>" }

// ScopeSubjects are the subject filters of the other events that can
// change a Set: the creations and deletions of what tokens act for
// (projects, environments, users, service accounts). A Set fed the events
// on TokenSubject and ScopeSubjects up to a sequence, in stream order, then
// [Set.SkipTo] it, equals one fed every event up to it.
func ScopeSubjects() []string {
	p := events.SubjectPrefix + "."
	return []string{
		p + events.KindProject + ".*." + events.EventName(events.TypeProjectDeleted),
		p + events.KindEnvironment + ".*." + events.EventName(events.TypeEnvironmentCreated),
		p + events.KindEnvironment + ".*." + events.EventName(events.TypeEnvironmentDeleted),
		p + events.KindUser + ".*." + events.EventName(events.TypeUserDeleted),
		p + events.KindServiceAccount + ".*." + events.EventName(events.TypeServiceAccountDeleted),
	}
}

// SkipTo records that every event up to seq was applied: the caller fed
// the Set every event on TokenSubject and ScopeSubjects up to seq, and
// the others carry nothing for it. It never moves LastApplied back.
func (s *Set) SkipTo(seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last = max(s.last, seq)
}
