package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// streamTokens reads a token list answer ({"lastApplied": n, "tokens":
// [...]}: GET /api/ledger/tokens and /api/ledger/state) one token at a
// time, calling fn for each, so that a ledger of a million tokens (about
// 330 MB of JSON) is never held whole. An answer of 429 or 503 with
// Retry-After is retried as getRetrying does. It returns lastApplied.
func streamTokens(ctx context.Context, cl *client, errw io.Writer, path string, fn func(ledgerToken) error) (uint64, error) {
	return streamTokensWith(ctx, cl, errw, path, nil, fn)
}

// streamTokensWith is streamTokens that also reports lastApplied to onLast
// as soon as it is read (before the tokens that follow it).
func streamTokensWith(ctx context.Context, cl *client, errw io.Writer, path string, onLast func(uint64), fn func(ledgerToken) error) (uint64, error) {
	for attempt := 0; ; attempt++ {
		resp, err := cl.get(ctx, path)
		if err != nil {
			return 0, err
		}
		if resp.StatusCode/100 == 2 {
			defer resp.Body.Close()
			last, err := decodeTokenList(resp.Body, onLast, fn)
			if err != nil {
				return 0, fmt.Errorf("reading the token list: %w", err)
			}
			return last, nil
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		ae := apiError(resp, raw)
		if attempt >= maxRetries || ae.RetryAfter == 0 || ae.RetryAfter > maxRetryWait ||
			(resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable) {
			return 0, ae
		}
		fmt.Fprintf(errw, "tokenledger: the server asks to wait %s (HTTP %d); retrying\n", ae.RetryAfter, ae.Status)
		select {
		case <-time.After(ae.RetryAfter):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// decodeTokenList walks one token list document.
func decodeTokenList(r io.Reader, onLast func(uint64), fn func(ledgerToken) error) (uint64, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return 0, err
	}
	var last uint64
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return 0, err
		}
		switch k {
		case "lastApplied":
			if err := dec.Decode(&last); err != nil {
				return 0, err
			}
			if onLast != nil {
				onLast(last)
			}
		case "tokens":
			if err := expectDelim(dec, '['); err != nil {
				return 0, err
			}
			for dec.More() {
				var t ledgerToken
				if err := dec.Decode(&t); err != nil {
					return 0, err
				}
				if err := fn(t); err != nil {
					return 0, err
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return 0, err
			}
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, err
			}
		}
	}
	return last, expectDelim(dec, '}')
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	t, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return errors.New("the answer is not the JSON expected")
	}
	return nil
}

// jsonDoc writes a JSON document with one array, as printJSON would
// (two-space indent, no HTML escaping), one element at a time: head opens
// it up to the array's "[" (for instance "{\n  \"tokens\": ["), add
// writes elements, and finish closes the array and writes tail (what
// follows "]" up to the document's end, for instance "\n}\n").
type jsonDoc struct {
	w   io.Writer
	n   int
	err error
}

func (j *jsonDoc) write(s string) {
	if j.err == nil {
		_, j.err = io.WriteString(j.w, s)
	}
}

func (j *jsonDoc) head(s string) { j.write(s) }

func (j *jsonDoc) add(v any) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetIndent("    ", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil && j.err == nil {
		j.err = err
	}
	if j.n == 0 {
		j.write("\n    ")
	} else {
		j.write(",\n    ")
	}
	j.write(strings.TrimSuffix(b.String(), "\n"))
	j.n++
}

func (j *jsonDoc) finish(tail string) error {
	if j.n > 0 {
		j.write("\n  ")
	}
	j.write("]" + tail)
	return j.err
}
