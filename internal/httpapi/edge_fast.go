package httpapi

// The per-request work of /edge/validate, cut to what the common request
// needs (issue 16, item 5): a body of the usual shape is read into a
// pooled buffer and parsed in one pass; the answer is appended to a
// pooled buffer and written at once. Anything else goes through the
// strict decoder, which names the error, so both paths accept the same
// bodies with the same result (FuzzEdgeTokensMatchStrictDecoder) and
// write the same bytes (TestEdgeAnswerBytesMatchEncoder).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/tokenledger/tokenledger/commands"
)

// edgeBufSize is the capacity pooled buffers start with: a request or an
// answer for a few tokens.
const edgeBufSize = 1024

// maxPooledBuf is the largest buffer put back in the pool: a rare large
// batch does not pin its memory.
const maxPooledBuf = 64 << 10

var edgeBufs = sync.Pool{New: func() any { b := make([]byte, 0, edgeBufSize); return &b }}

func getBuf() *[]byte { return edgeBufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > maxPooledBuf {
		return
	}
	*b = (*b)[:0]
	edgeBufs.Put(b)
}

// jsonContentTypeValue is writeJSON's Content-Type, shared by every answer
// (net/http copies the header map, never this slice, before writing it).
var jsonContentTypeValue = []string{"application/json; charset=utf-8"}

// readJSONBody checks the JSON content type (415) and reads the body into
// dst up to the size limit (413): decode's transport, without the decoding.
func (s *Server) readJSONBody(w http.ResponseWriter, r *http.Request, dst []byte) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" && !jsonContentType(r) {
		return nil, newError(http.StatusUnsupportedMediaType, "ContentTypeError", "Content-Type must be application/json")
	}
	var rd io.Reader = r.Body
	if r.ContentLength < 0 || r.ContentLength > s.cfg.MaxBodyBytes {
		// A body of a declared length within the limit cannot pass it
		// (net/http stops at the length); the others are cut at the
		// limit, and the connection closed after the 413.
		rd = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	}
	body, err := appendAll(dst, rd)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newError(http.StatusRequestEntityTooLarge, "ContentTooLargeError",
				fmt.Sprintf("Request body is larger than %d bytes", s.cfg.MaxBodyBytes))
		}
		return nil, badRequest("", "request body could not be read")
	}
	return body, nil
}

// appendAll appends everything rd holds to dst, like io.ReadAll (which
// starts with 512 bytes, as appendAll does for a nil dst).
func appendAll(dst []byte, rd io.Reader) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, 512)
	}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := rd.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// edgeTokens reads the tokens of an /edge/validate body: {"tokens": [...]}
// with strings only, appended to dst (the caller's array for the usual
// few). A body the one-pass parser does not take goes through decodeBody,
// which accepts or refuses it with the route's message.
func edgeTokens(body []byte, dst []string) ([]string, error) {
	if tokens, ok := parseEdgeTokens(body, dst); ok {
		return tokens, nil
	}
	var b struct {
		Tokens *[]string `json:"tokens"`
	}
	if err := decodeBody(body, &b); err != nil {
		return nil, err
	}
	if b.Tokens == nil {
		return nil, badRequest("tokens", `"tokens" is required: a list of token strings`)
	}
	return *b.Tokens, nil
}

// parseEdgeTokens parses the usual body in one pass: optional JSON
// whitespace around `{"tokens":[` strings separated by commas `]}`, each
// string valid UTF-8 without escapes or control characters. It reports
// false for anything else (decodeBody then decides), so it accepts only
// bodies the strict decoder accepts, with the same result, appended to
// dst (never nil when it reports true).
func parseEdgeTokens(body []byte, dst []string) ([]string, bool) {
	p := edgeParser{b: body}
	if !p.lit("{") || !p.lit(`"tokens"`) || !p.lit(":") || !p.lit("[") {
		return nil, false
	}
	tokens := dst[:0]
	if tokens == nil {
		tokens = []string{}
	}
	if p.ws(); p.peek(']') {
		p.i++
	} else {
		for {
			s, ok := p.str()
			if !ok {
				return nil, false
			}
			tokens = append(tokens, s)
			if p.lit(",") {
				continue
			}
			if !p.lit("]") {
				return nil, false
			}
			break
		}
	}
	if !p.lit("}") {
		return nil, false
	}
	p.ws()
	return tokens, p.i == len(p.b)
}

type edgeParser struct {
	b []byte
	i int
}

func (p *edgeParser) ws() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *edgeParser) peek(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

// lit skips whitespace and then s.
func (p *edgeParser) lit(s string) bool {
	p.ws()
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// str skips whitespace and reads a string without escapes or control
// characters, in valid UTF-8.
func (p *edgeParser) str() (string, bool) {
	if p.ws(); !p.peek('"') {
		return "", false
	}
	start := p.i + 1
	ascii := true
	for j := start; j < len(p.b); j++ {
		switch c := p.b[j]; {
		case c == '"':
			s := p.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return "", false
			}
			p.i = j + 1
			return string(s), true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// appendEdgeAnswer appends the answer for tokens to dst: the bytes
// writeJSON writes for struct{Tokens []edgeToken}, newline included.
func appendEdgeAnswer(dst []byte, tokens []edgeToken) []byte {
	dst = append(dst, `{"tokens":[`...)
	for i, t := range tokens {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"token":`...)
		dst = appendJSONString(dst, t.Token)
		dst = append(dst, `,"type":`...)
		dst = appendJSONString(dst, t.Type)
		dst = append(dst, `,"projects":`...)
		if t.Projects == nil {
			dst = append(dst, "null"...)
		} else {
			dst = append(dst, '[')
			for j, p := range t.Projects {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = appendJSONString(dst, p)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, `,"environment":`...)
		dst = appendJSONString(dst, t.Environment)
		dst = append(dst, '}')
	}
	return append(dst, "]}\n"...)
}

// appendJSONString appends s as encoding/json does without HTML escaping:
// printable ASCII other than '"' and '\' as it is; anything else through
// the encoder itself.
func appendJSONString(dst []byte, s string) []byte {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// edgeScope is what /edge/validate answers for a valid token's scope.
func edgeScope(projects []string, all bool) []string {
	if all {
		return allProjectsScope
	}
	return projects
}

// allProjectsScope is the projects of an all-projects token (read only).
var allProjectsScope = []string{commands.AllProjects}
