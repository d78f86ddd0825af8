package events

import (
	"bytes"
	"encoding/json"
	"time"
	"unsafe"

	fastjson "github.com/goccy/go-json"
)

// decodeTokenCreated decodes a token.created v1 payload: in one pass when
// it is in the form Marshal writes (plainTokenCreated), else with the JSON
// decoder, as every other payload.
func decodeTokenCreated(raw json.RawMessage) (TokenCreated, error) {
	if c, ok := plainTokenCreated(raw); ok {
		return c, nil
	}
	var c TokenCreated
	err := fastjson.UnmarshalOf(raw, &c) // c stays off the heap until boxed
	return c, err
}

// tokenCreatedKeys are TokenCreated's members' `"name":`, in the order
// Marshal writes them (its fields'), and ownerKeys Owner's.
var (
	tokenCreatedKeys = [...][]byte{[]byte(`"tokenType":`), []byte(`"name":`), []byte(`"owner":`), []byte(`"environment":`),
		[]byte(`"projects":`), []byte(`"allProjects":`), []byte(`"expiresAt":`), []byte(`"path":`), []byte(`"verifier":`),
		[]byte(`"hint":`), []byte(`"onBehalfOf":`)}
	ownerKeys = [...][]byte{[]byte(`"kind":`), []byte(`"id":`)}
)

// The members of tokenCreatedKeys.
const (
	tcTokenType = iota
	tcName
	tcOwner
	tcEnvironment
	tcProjects
	tcAllProjects
	tcExpiresAt
	tcPath
	tcVerifier
	tcHint
	tcOnBehalfOf
)

// maxPlainProjects bounds the projects plainTokenCreated reads; a longer
// list goes to the decoder.
const maxPlainProjects = 16

// plainTokenCreated reads b, a token.created payload, when it is an object
// of the members Marshal writes, in its order, each at most once: strings
// without escapes or invalid UTF-8, owner an object of such strings,
// projects a non-empty array of them (at most maxPlainProjects), the flags
// true or false, expiresAt a string time.Time decodes. It reports false
// for anything else (the decoder judges it). What it returns holds what
// the decoder's would, its strings copied into one allocation of their
// own (the token set copies them again; the audit log keeps projects).
func plainTokenCreated(b []byte) (TokenCreated, bool) {
	var c TokenCreated
	// The strings as they lie in b, copied at the end.
	var strs [tcOnBehalfOf + 1]string
	var owner [len(ownerKeys)]string
	var projects [maxPlainProjects]string
	nProjects := 0
	hasOwner, hasExpiry := false, false
	var expiry time.Time

	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return c, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return c, false // the decoder's zero value: rare, left to it
	}
	next := 0
	for {
		k := -1
		for next < len(tokenCreatedKeys) {
			x := next
			next++
			if bytes.HasPrefix(b[i:], tokenCreatedKeys[x]) {
				k, i = x, skipSpace(b, i+len(tokenCreatedKeys[x]))
				break
			}
		}
		var ok bool
		switch k {
		case -1:
			return c, false
		case tcOwner:
			i, ok = plainObject(b, i, ownerKeys[:], owner[:])
			hasOwner = true
		case tcProjects:
			nProjects, i, ok = plainStrings(b, i, projects[:])
		case tcAllProjects:
			c.AllProjects, i, ok = plainBool(b, i)
		case tcOnBehalfOf:
			c.OnBehalfOf, i, ok = plainBool(b, i)
		case tcExpiresAt:
			var v string
			var j int
			if v, j, ok = plainValue(b, i); ok {
				ok = len(v) > 0 && expiry.UnmarshalJSON(b[i:j]) == nil
				i, hasExpiry = j, true
			}
		default:
			strs[k], i, ok = plainValue(b, i)
		}
		if !ok {
			return c, false
		}
		if i = skipSpace(b, i); i >= len(b) {
			return c, false
		}
		if b[i] == ',' {
			i = skipSpace(b, i+1)
			continue
		}
		if b[i] != '}' || skipSpace(b, i+1) != len(b) {
			return c, false
		}
		break
	}

	// One buffer for every string.
	n := 0
	for _, s := range strs {
		n += len(s)
	}
	for _, s := range owner {
		n += len(s)
	}
	for _, s := range projects[:nProjects] {
		n += len(s)
	}
	buf := make([]byte, 0, n)
	own := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafe.String(&buf[start], len(s))
	}
	c.TokenType, c.Name, c.Environment = own(strs[tcTokenType]), own(strs[tcName]), own(strs[tcEnvironment])
	c.Path, c.Verifier, c.Hint = own(strs[tcPath]), own(strs[tcVerifier]), own(strs[tcHint])
	if hasOwner {
		c.Owner = &Owner{Kind: own(owner[0]), ID: own(owner[1])}
	}
	if nProjects > 0 {
		c.Projects = make([]string, nProjects)
		for x, s := range projects[:nProjects] {
			c.Projects[x] = own(s)
		}
	}
	if hasExpiry {
		c.ExpiresAt = &expiry
	}
	return c, true
}

// plainStrings reads the array at b[i] of one to len(dst) plain strings
// (plainValue) into dst: how many, and the index after the array.
func plainStrings(b []byte, i int, dst []string) (int, int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, i, false
	}
	i = skipSpace(b, i+1)
	n := 0
	for {
		if n == len(dst) {
			return 0, i, false
		}
		var ok bool
		if dst[n], i, ok = plainValue(b, i); !ok {
			return 0, i, false
		}
		n++
		if i = skipSpace(b, i); i >= len(b) {
			return 0, i, false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case ']':
			return n, i + 1, true
		default:
			return 0, i, false
		}
	}
}

// plainBool reads the literal true or false at b[i].
func plainBool(b []byte, i int) (bool, int, bool) {
	switch {
	case bytes.HasPrefix(b[i:], []byte("true")):
		return true, i + 4, true
	case bytes.HasPrefix(b[i:], []byte("false")):
		return false, i + 5, true
	}
	return false, i, false
}
