package httpapi

import (
	"errors"
	"net/http"
	"testing"
)

func TestWholeLedgerReadsBeyondTheSlotsAreRefusedUntilOneEnds(t *testing.T) {
	s := &Server{heavy: make(chan struct{}, heavyReadSlots)}
	var held []func()
	for range heavyReadSlots {
		release, err := s.heavyRead()
		if err != nil {
			t.Fatalf("a free slot was refused: %v", err)
		}
		held = append(held, release)
	}
	_, err := s.heavyRead()
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable {
		t.Fatalf("a read beyond the slots: %v, want a 503", err)
	}
	held[0]()
	release, err := s.heavyRead()
	if err != nil {
		t.Fatalf("a slot given back was not taken again: %v", err)
	}
	release()
}
