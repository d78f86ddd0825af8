package httpapi_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tokenledger/tokenledger/internal/servicetest"
)

// /edge/validate reads a body the same whatever its layout: spaced,
// escaped (a JSON escape inside the token) or compact, the answer is the
// same bytes, and a malformed body is still refused with the strict
// decoder's 400.
func TestEdgeValidateAnswersEveryLayoutOfABodyAlike(t *testing.T) {
	s := servicetest.Start(t, "", nil)
	secret, _ := s.CreateToken("backend", "development", "default")
	escaped := strings.Replace(secret, ":", `\u003a`, 1)
	post := func(t *testing.T, body string) (int, []byte) {
		t.Helper()
		resp, err := http.Post(s.URL()+"/edge/validate", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b
	}
	status, want := post(t, `{"tokens":["`+secret+`"]}`)
	if status != http.StatusOK || !bytes.Contains(want, []byte(secret)) {
		t.Fatalf("compact body: %d %s", status, want)
	}
	for _, tt := range []struct{ name, body string }{
		{"spaced", " {\n\t\"tokens\" : [ \"" + secret + "\" ]\r\n} \n"},
		{"escaped", `{"tokens":["` + escaped + `"]}`},
		{"with an unknown token after it", `{"tokens":["` + secret + `","*:development.nope"]}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, got := post(t, tt.body); status != http.StatusOK || !bytes.Equal(got, want) {
				t.Fatalf("%d %s, want 200 %s", status, got, want)
			}
		})
	}
	for _, tt := range []struct{ name, body string }{
		{"trailing comma", `{"tokens":["` + secret + `",]}`},
		{"two members", `{"tokens":["` + secret + `"],"tokens":[]}`},
		{"case variant", `{"Tokens":["` + secret + `"]}`},
		{"trailing value", `{"tokens":["` + secret + `"]} {}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := s.For(t).MustRefuse(http.StatusBadRequest, "POST", "/edge/validate", "", tt.body)
			if strings.Contains(string(r.Body), secret) {
				t.Fatalf("the 400 repeats the token: %s", r.Body)
			}
		})
	}
}
