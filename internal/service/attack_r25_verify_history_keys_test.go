package service_test

import "testing"

// verify --data-dir without --key now checks checkpoints with every key
// the key history lists (atk-r25's fix), as an auditor giving every key
// does. Held (atk-r25): the holder of the retired key appends an event it
// signs (or a rotation back to it, then an event) and replaces the tree
// head beside the data dir by one of the whole stream it signs: verify
// still names the first forged record, the head of a key past its
// rotation vouching for nothing (r17's rule, integrity.KeyTracker).
func TestVerifyDataDirWithTheHistoryKeysRefusesAHeadSignedByTheRetiredKey(t *testing.T) {
	t.Run("an event", func(t *testing.T) { retiredKeyHeadForgery(t, false, true) })
	t.Run("a rotation back to the retired key, then an event", func(t *testing.T) { retiredKeyHeadForgery(t, true, true) })
}
