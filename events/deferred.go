package events

// UnmarshalDeferred is [Unmarshal] without decoding Data: the payload is
// decoded by [Envelope.DecodePayload], or by the first call of
// [Envelope.Payload] on the envelope. A replay decodes the envelope on
// the goroutine that reads the stream and the payload on the one that
// applies the events, so that neither does all of the decoding. It
// accepts and refuses exactly what Unmarshal does.
func UnmarshalDeferred(b []byte) (Envelope, error) {
	return unmarshalEnvelope(b)
}

// DecodePayload decodes Data once and keeps the result on the envelope,
// as [Unmarshal] does, so that Payload on it and on its later copies does
// not decode again. A payload this build cannot decode is kept as none:
// Payload reports the error. It does nothing when the payload was
// decoded already.
func (e *Envelope) DecodePayload() {
	if e.payload == nil {
		e.payload, _ = e.decodePayload()
	}
}
