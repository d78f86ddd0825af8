package httpapi_test

import (
	"io"
	"net/http"
	"runtime/metrics"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// A list of every token is written as it is encoded: the server allocates
// a page of tokens and a write buffer, not every token, every apiToken
// and the whole answer (2.5 times the answer's size at 600 tokens, and a
// buffer of the answer's size left pooled). Measured as the bytes the
// process allocated for one answer, server and client together, the least
// of a few tries (the service's own timers allocate a little meanwhile).
func TestTokenListAllocatesFarLessThanItsAnswer(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	for range 600 {
		s.CreateToken("client", "development", "default")
	}
	url := s.URL() + "/api/admin/api-tokens"
	get := func() int64 {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", servicetest.AdminSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("list: %d, %v", resp.StatusCode, err)
		}
		return n
	}
	size := get() // warm up: connection, pools
	least := int64(-1)
	for range 5 {
		before := allocated()
		get()
		if a := allocated() - before; least < 0 || a < least {
			least = a
		}
	}
	if least > size/2 {
		t.Errorf("one list answer of %d bytes allocated at least %d bytes, want at most half of it", size, least)
	}
}

// allocated is the bytes the process allocated on the heap so far.
func allocated() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}
