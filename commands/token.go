package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/tokenledger/tokenledger/events"
)

// Limits on names and ids.
const (
	MaxNameLen = 255 // token names and PAT descriptions, in characters
	MaxIDLen   = 100 // project ids and environment names
)

// CreateToken asks for a new token.
type CreateToken struct {
	// TokenID is the new aggregate's id. The handler generates a UUIDv7 when
	// it is empty; callers that need a stable id (an idempotency key,
	// bootstrap import) set it.
	TokenID     string
	Type        string // events.Token*
	Name        string
	Owner       *events.Owner // required for personal and service-account tokens
	Environment string
	// Projects is the token's project list; a "*" anywhere in it means all
	// projects, current and future. Ignored for personal and
	// service-account tokens.
	Projects   []string
	ExpiresAt  *time.Time // nil: never expires
	Path       string     // events.Path*
	OnBehalfOf bool
	// Secret is a pre-chosen secret (bootstrap, import). Empty: the handler
	// generates one.
	Secret Secret
}

// ChangeExpiry sets a token's expiry; nil means never.
type ChangeExpiry struct {
	TokenID   string
	ExpiresAt *time.Time
}

// RevokeToken ends a token for good.
type RevokeToken struct {
	TokenID string
	Reason  string // events.Reason*
}

// ScopeToken removes projects from a token's scope (a project was deleted).
// A token left without projects is revoked instead: a scope is never widened
// to all projects.
type ScopeToken struct {
	TokenID string
	Remove  []string
	Cause   string
}

var tokenTypes = []string{events.TokenClient, events.TokenBackend, events.TokenFrontend,
	events.TokenAdmin, events.TokenPersonal, events.TokenServiceAccount}

var creationPaths = []string{events.PathAdminAPI, events.PathProjectAPI, events.PathPAT,
	events.PathServiceAccount, events.PathBootstrap, events.PathImport}

var revokeReasons = []string{events.ReasonDeleted, events.ReasonProjectDeleted,
	events.ReasonOwnerDeleted, events.ReasonRotated, events.ReasonCompromised, events.ReasonEnvironmentDeleted}

// IsAccountToken reports whether tokens of this type act as a principal (a
// user or a service account) rather than carry a scope of their own.
func IsAccountToken(tokenType string) bool {
	return tokenType == events.TokenPersonal || tokenType == events.TokenServiceAccount
}

// DecideCreate checks a create command against Unleash's scope rules and
// returns the token.created payload. verifier and hint describe the secret
// the handler will hand out. It is pure: no I/O, no clock but now.
func DecideCreate(s TokenState, c CreateToken, verifier, hint string, now time.Time) (events.TokenCreated, error) {
	if s.Exists {
		return events.TokenCreated{}, ErrExists
	}
	if !slices.Contains(tokenTypes, c.Type) {
		return events.TokenCreated{}, invalid("type", "must be one of client, backend, frontend, admin, personal, service-account")
	}
	if !slices.Contains(creationPaths, c.Path) {
		return events.TokenCreated{}, invalid("path", "unknown creation path")
	}
	nameField := "tokenName"
	if IsAccountToken(c.Type) {
		nameField = "description"
	}
	if err := checkName(nameField, c.Name); err != nil {
		return events.TokenCreated{}, err
	}
	if c.ExpiresAt != nil && !c.ExpiresAt.After(now) {
		return events.TokenCreated{}, invalid("expiresAt", "must be in the future")
	}
	out := events.TokenCreated{
		TokenType:  c.Type,
		Name:       c.Name,
		ExpiresAt:  utcPtr(c.ExpiresAt),
		Path:       c.Path,
		Verifier:   verifier,
		Hint:       hint,
		OnBehalfOf: c.OnBehalfOf,
	}
	if IsAccountToken(c.Type) {
		if c.Owner == nil || c.Owner.ID == "" {
			return events.TokenCreated{}, invalid("owner", "a %s token needs an owner", c.Type)
		}
		want := events.ActorUser
		if c.Type == events.TokenServiceAccount {
			want = events.ActorServiceAccount
		}
		if c.Owner.Kind != want {
			return events.TokenCreated{}, invalid("owner", "a %s token is owned by a %s", c.Type, want)
		}
		if c.Type == events.TokenPersonal && c.ExpiresAt == nil {
			return events.TokenCreated{}, invalid("expiresAt", "personal access tokens need an expiry")
		}
		out.Owner = c.Owner
		return out, nil
	}
	if c.Owner != nil {
		return events.TokenCreated{}, invalid("owner", "only personal and service-account tokens have an owner")
	}
	if c.OnBehalfOf {
		return events.TokenCreated{}, invalid("onBehalfOf", "only personal tokens are issued on behalf of a user")
	}
	if len(c.Projects) == 0 {
		return events.TokenCreated{}, invalid("projects", "must list at least one project, or \"*\" for all")
	}
	all := slices.Contains(c.Projects, AllProjects)
	if !all {
		seen := map[string]bool{}
		for _, p := range c.Projects {
			if err := checkID("projects", p); err != nil {
				return events.TokenCreated{}, err
			}
			if !seen[p] {
				seen[p] = true
				out.Projects = append(out.Projects, p)
			}
		}
		slices.Sort(out.Projects)
	}
	out.AllProjects = all
	switch {
	case c.Environment == "":
		return events.TokenCreated{}, invalid("environment", "is required")
	case c.Type == events.TokenAdmin:
		if !all {
			return events.TokenCreated{}, invalid("projects", "Admin token cannot be scoped to single project")
		}
		if c.Environment != AllEnvironments {
			return events.TokenCreated{}, invalid("environment", "Admin token cannot be scoped to single environment")
		}
	case c.Environment == AllEnvironments && c.Type == events.TokenFrontend:
		return events.TokenCreated{}, invalid("environment", "Frontend token cannot be scoped to all environments")
	case c.Environment == AllEnvironments:
		return events.TokenCreated{}, invalid("environment", "Client token cannot be scoped to all environments")
	default:
		if err := checkID("environment", c.Environment); err != nil {
			return events.TokenCreated{}, err
		}
	}
	out.Environment = c.Environment
	return out, nil
}

// DecideChangeExpiry returns the token.expiry-changed payload. A past expiry
// is accepted, as Unleash does: the token stops working at once.
func DecideChangeExpiry(s TokenState, c ChangeExpiry) (events.TokenExpiryChanged, error) {
	if err := live(s); err != nil {
		return events.TokenExpiryChanged{}, err
	}
	if s.Type == events.TokenPersonal && c.ExpiresAt == nil {
		return events.TokenExpiryChanged{}, invalid("expiresAt", "personal access tokens need an expiry")
	}
	exp := utcPtr(c.ExpiresAt)
	if exp != nil && exp.Before(epoch) {
		// A past expiry stops the token at once. Dates before 1970 (Go's
		// zero time among them, which would read as "never") become the
		// epoch: as past, and never mistaken for no expiry.
		*exp = epoch
	}
	if (exp == nil) == (s.ExpiresAt == nil) && (exp == nil || exp.Equal(*s.ExpiresAt)) {
		// The trail records changes: none here (a retried PUT, or 16
		// identical ones at once, append at most one event).
		return events.TokenExpiryChanged{}, ErrUnchanged
	}
	return events.TokenExpiryChanged{Previous: s.ExpiresAt, New: exp}, nil
}

var epoch = time.Unix(0, 0).UTC()

// DecideExpire returns the token.expired payload once the expiry moment has
// passed and was not recorded yet.
func DecideExpire(s TokenState, now time.Time) (events.TokenExpired, error) {
	if err := live(s); err != nil {
		return events.TokenExpired{}, err
	}
	if s.ExpiresAt == nil || now.Before(*s.ExpiresAt) {
		return events.TokenExpired{}, invalid("expiresAt", "the token has not expired")
	}
	if s.Expired {
		return events.TokenExpired{}, ErrExists
	}
	return events.TokenExpired{ExpiresAt: s.ExpiresAt.UTC()}, nil
}

// DecideRevoke returns the token.revoked payload.
func DecideRevoke(s TokenState, c RevokeToken) (events.TokenRevoked, error) {
	if err := live(s); err != nil {
		return events.TokenRevoked{}, err
	}
	if !slices.Contains(revokeReasons, c.Reason) {
		return events.TokenRevoked{}, invalid("reason", "must be one of deleted, project-deleted, owner-deleted, rotated, compromised, environment-deleted")
	}
	return events.TokenRevoked{Reason: c.Reason}, nil
}

// DecideScope narrows a token's projects. It returns token.scoped, or
// token.revoked (reason project-deleted) when no project would remain, or an
// ErrNotFound-wrapping nil payload when the token holds none of the projects.
func DecideScope(s TokenState, c ScopeToken) (events.Payload, error) {
	if err := live(s); err != nil {
		return nil, err
	}
	if s.AllProjects {
		return nil, invalid("projects", "an all-projects token keeps its scope")
	}
	keep := slices.DeleteFunc(slices.Clone(s.Projects), func(p string) bool { return slices.Contains(c.Remove, p) })
	switch {
	case len(keep) == len(s.Projects):
		return nil, invalid("projects", "the token is not scoped to any of these projects")
	case len(keep) == 0:
		return events.TokenRevoked{Reason: events.ReasonProjectDeleted}, nil
	}
	return events.TokenScoped{Projects: keep, PreviousProjects: s.Projects, Cause: c.Cause}, nil
}

func live(s TokenState) error {
	switch {
	case !s.Exists:
		return ErrNotFound
	case s.Revoked:
		return ErrGone
	}
	return nil
}

// checkName validates a name: valid UTF-8, 1 to MaxNameLen characters, not
// only whitespace (unique-name claims fold surrounding whitespace, so a
// blank name could claim nothing), and no control or format characters
// (see checkText).
func checkName(field, name string) error {
	switch n := utf8.RuneCountInString(name); {
	case !utf8.ValidString(name):
		return invalid(field, "must be valid UTF-8")
	case n == 0:
		return invalid(field, "is required")
	case strings.TrimSpace(name) == "":
		return invalid(field, "must not be blank")
	case n > MaxNameLen:
		return invalid(field, "must be at most %d characters", MaxNameLen)
	}
	return checkText(field, name, false)
}

// checkText refuses the characters that make a displayed text lie about
// itself or about what follows it: control characters (Cc: NUL, ESC, …;
// tab and line breaks only in multiline text), format characters (Cf:
// bidirectional embeddings, overrides and isolates, directional marks,
// zero-width spaces, the BOM; the zero-width joiner and non-joiner, which
// scripts and emoji need, are allowed) and line and paragraph separators
// in single-line text. The message never repeats the value.
func checkText(field, s string, multiline bool) error {
	for _, r := range s {
		switch {
		case multiline && (r == '\t' || r == '\n' || r == '\r'):
		case r == '\u200c' || r == '\u200d':
		case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r),
			!multiline && (unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)):
			return invalid(field, "must not contain control or format characters (such as NUL, ESC or bidirectional overrides)")
		}
	}
	return nil
}

// checkID validates a project id or environment name: 1–100 of A–Z a–z 0–9
// _ -. The set is narrower than Unleash's because ids become subject tokens.
func checkID(field, id string) error {
	if id == "" || len(id) > MaxIDLen {
		return invalid(field, "must be 1 to %d characters", MaxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return invalid(field, "may contain only letters, digits, '_' and '-'")
		}
	}
	return nil
}

// ValidID reports whether id is a valid project id or environment name.
func ValidID(id string) bool { return checkID("", id) == nil }

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Created is the outcome of CreateToken.
type Created struct {
	Result
	TokenID string
	// CreatedSeq is the stream sequence of the token.created event (the
	// first of its batch): a personal access token's integer id.
	CreatedSeq uint64
	// At is the event's time.
	At time.Time
	// Secret is the full secret, to be shown once. It is zero when the
	// command was replayed: the secret was shown the first time and is not
	// kept anywhere.
	Secret Secret
	Token  events.TokenCreated
}

// CreateToken issues a token. With a pre-chosen c.Secret (bootstrap) the
// secret is taken as is and its hint shows none of its characters;
// otherwise one of Unleash's shape is generated.
//
// The rules of account tokens hold in the stream (see accountClaims): at
// most MaxAccountTokens live ones per owner, and a personal token issued on
// behalf of a user only as that user's first. A conflict is re-decided on
// fresh state, a bounded number of times: a slot or first-token claim taken
// by a concurrent create makes this one take the next free slot or be
// refused.
func (h *Handler) CreateToken(ctx context.Context, m Meta, c CreateToken) (Created, error) {
	m = h.withCommandID(m)
	generated := c.TokenID == ""
	if generated {
		c.TokenID = uuid.Must(uuid.NewV7FromReader(h.rand)).String()
	}
	if !ValidID(c.TokenID) {
		return Created{}, invalid("tokenId", "must be 1 to %d letters, digits, '_' or '-'", MaxIDLen)
	}
	holder := events.Owner{Kind: events.KindToken, ID: c.TokenID}
	for attempt := 0; ; attempt++ {
		var secret Secret
		o, err := run(ctx, h, m, command[TokenState]{kind: events.KindToken, id: c.TokenID, create: true, again: true, raced: true,
			generated: generated && attempt == 0, fold: FoldToken,
			decide: func(_ context.Context, s TokenState, _ *expectation, now time.Time) (events.Payload, error) {
				if err := h.checkScope(c); err != nil {
					return nil, err
				}
				var hint string
				if secret = c.Secret; secret.IsZero() {
					var err error
					if secret, err = GenerateSecret(h.rand, c.Type, c.Projects, containsAll(c.Projects), c.Environment); err != nil {
						return nil, err
					}
					hint = Hint(secret.Reveal())
				} else {
					hint = ForeignHint(secret.Reveal())
				}
				return DecideCreate(s, c, secret.Verifier(), hint, now)
			},
			names: func(s TokenState, p events.Payload) []nameOp {
				if tc, ok := p.(events.TokenCreated); ok {
					return accountTokenName(tc.Owner, tc.Name, false)
				}
				return accountTokenName(s.Owner, s.Created.Name, false) // a replay
			},
			claims: func(ctx context.Context, _ TokenState, p events.Payload, now time.Time) ([]Append, error) {
				return h.accountClaims(ctx, m, now, holder, p.(events.TokenCreated))
			},
		})
		switch {
		case errors.Is(err, errDecideAgain) && attempt < 2*h.maxAccount+2:
			continue
		case errors.Is(err, errDecideAgain):
			return Created{}, fmt.Errorf("create token %s: %w", c.TokenID, ErrConflict)
		case err != nil:
			return Created{}, err
		case o.Replayed:
			return Created{Result: o.Result, TokenID: c.TokenID, Token: o.state.Created, CreatedSeq: o.first}, nil
		}
		return Created{Result: o.Result, TokenID: c.TokenID, Secret: secret, Token: o.payload.(events.TokenCreated),
			CreatedSeq: o.first, At: o.at}, nil
	}
}

func containsAll(projects []string) bool {
	for _, p := range projects {
		if p == AllProjects {
			return true
		}
	}
	return false
}

// ChangeExpiry sets a token's expiry.
func (h *Handler) ChangeExpiry(ctx context.Context, m Meta, c ChangeExpiry) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, withCommand(DecideChangeExpiry, c))
}

// ExpireToken records that a token's expiry passed (the scheduler's command).
func (h *Handler) ExpireToken(ctx context.Context, m Meta, tokenID string) (Result, error) {
	return h.onToken(ctx, m, tokenID, func(s TokenState, now time.Time) (events.Payload, error) {
		return DecideExpire(s, now)
	})
}

// RevokeToken revokes a token.
func (h *Handler) RevokeToken(ctx context.Context, m Meta, c RevokeToken) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, withCommand(DecideRevoke, c))
}

// ScopeToken narrows a token's projects, revoking it when none remain.
func (h *Handler) ScopeToken(ctx context.Context, m Meta, c ScopeToken) (Result, error) {
	return h.onToken(ctx, m, c.TokenID, withCommand(DecideScope, c))
}
