package servicetest

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Response is an HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object; it fails the test if it is not
// one.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, r.Body)
	}
	return v
}

// Do sends a request to the service with cred in the Authorization header
// ("" for none) and body as JSON (a string or []byte is sent as is), plus
// headers given as name, value pairs.
func (s *Service) Do(method, path, cred string, body any, headers ...string) Response {
	s.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if cred != "" {
		req.Header.Set("Authorization", cred)
	}
	req.Header.Set("User-Agent", "tokenledger-test/1")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Must is Do that fails the test unless the status is want.
func (s *Service) Must(want int, method, path, cred string, body any, headers ...string) Response {
	s.t.Helper()
	r := s.Do(method, path, cred, body, headers...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	return r
}

// CheckErrorShape fails the test unless r carries Unleash's error shape,
// {id, name, message, details[{message}]}, as JSON.
func CheckErrorShape(t testing.TB, r Response) {
	t.Helper()
	var e struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Message string `json:"message"`
		Details []struct {
			Message string `json:"message"`
		} `json:"details"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil {
		t.Fatalf("error body is not JSON: %s", r.Body)
	}
	if e.ID == "" || e.Name == "" || e.Message == "" || len(e.Details) == 0 || e.Details[0].Message == "" {
		t.Fatalf("error body lacks id/name/message/details: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

// Dial opens a TCP connection to the HTTP listener, for requests Go's
// client would not send as written and for connections a test holds
// open. It is closed when the test ends.
func (s *Service) Dial() net.Conn {
	s.t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL(), "http://"))
	if err != nil {
		s.t.Fatalf("servicetest: dial the HTTP listener: %v", err)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// MustRefuse is Do for a request the service must refuse: it fails the
// test unless the status is want, the body has the error shape and the
// stream holds no new event.
func (s *Service) MustRefuse(want int, method, path, cred string, body any, headers ...string) Response {
	s.t.Helper()
	before := s.LastSeq()
	r := s.Do(method, path, cred, body, headers...)
	if r.Status != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.Status, want, r.Body)
	}
	CheckErrorShape(s.t, r)
	if after := s.LastSeq(); after != before {
		s.t.Fatalf("%s %s: the refused request appended %d events", method, path, after-before)
	}
	return r
}
