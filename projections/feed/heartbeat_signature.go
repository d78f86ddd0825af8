package feed

import (
	"encoding/base64"
	"fmt"
)

// heartbeatContext starts what the publisher signs for a heartbeat. It
// differs from a feed event's (signedContext), so that no stored event's
// signature passes for a heartbeat's.
const heartbeatContext = "tokenledger feed heartbeat v1\n"

// HeartbeatSignedBytes is what the feed publisher signs for a heartbeat
// whose message data is data (in the [KeyHeader] and [SignatureHeader]
// headers of the heartbeat message, as for a feed event).
func HeartbeatSignedBytes(data []byte) []byte {
	return append([]byte(heartbeatContext), data...)
}

// CheckHeartbeat verifies a heartbeat message: hb decoded from data, and
// keyID and sig its [KeyHeader] and [SignatureHeader]. It must be signed
// by the key it announces (hb.VerifierKey); whether that key is trusted is
// the reader's decision. A reader can make the server publish any stored
// feed event on the heartbeat subject (a Direct Get with that reply
// subject, with or without the stored headers): such a message announces
// no key and carries no heartbeat signature, so it fails here.
func CheckHeartbeat(hb Heartbeat, keyID, sig string, data []byte) error {
	var k Keys
	if hb.VerifierKey == "" || keyID == "" || sig == "" || k.Add(hb.VerifierKey) != nil {
		return fmt.Errorf("feed: heartbeat: %w", ErrUnsigned)
	}
	v, ok := k.byID[keyID]
	if !ok {
		return fmt.Errorf("feed: heartbeat: key %q is not the key it announces: %w", keyID, ErrUnsigned)
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !v.Verify(HeartbeatSignedBytes(data), raw) {
		return fmt.Errorf("feed: heartbeat: %w", ErrBadSignature)
	}
	return nil
}
