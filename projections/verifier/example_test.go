package verifier_test

import (
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/projections/verifier"
)

// A service protects its API with tokens verified locally: a revoked token
// is refused within milliseconds of its revocation, and every request is
// refused (503) if the ledger's feed is lost for longer than 10 seconds.
func Example() {
	v, err := verifier.Connect(verifier.Connection{
		URL:          "nats://127.0.0.1:4222", // the ledger's --nats-listen
		NkeySeedFile: "reader.seed",           // its public key is in the ledger's --nats-readers
	}, verifier.Config{
		MaxStaleness: 10 * time.Second,
		OnRevoke: func(c verifier.Change) {
			if !c.Replayed {
				log.Printf("token %s revoked (%s)", c.Token.ID, c.Reason)
			}
		},
		OnError: func(err error) { log.Print(err) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()
	<-v.Ready()

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := verifier.TokenFrom(r.Context())
		fmt.Fprintf(w, "hello, %s token %s\n", tok.Type, tok.ID)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", v.Middleware(api)))
}
