package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/tokenledger/tokenledger/events"
)

// The defaults [Handler.EnsureDefaults] creates: the default
// project and the environments development and production.
var (
	defaultProject  = CreateProject{ProjectID: DefaultProject, Name: "Default", Description: "Default project"}
	defaultEnvirons = []CreateEnvironment{
		{Name: "development", Type: EnvTypeDevelopment},
		{Name: "production", Type: EnvTypeProduction},
	}
)

// DefaultEnvironmentNames are the names of the environments
// EnsureDefaults creates.
func DefaultEnvironmentNames() []string {
	out := make([]string, len(defaultEnvirons))
	for i, c := range defaultEnvirons {
		out[i] = c.Name
	}
	return out
}

// EnsureDefaults creates whatever of the defaults does not
// exist yet (project default, environments development and production) in
// one atomic append, as events of m.Actor (at start-up: events.System). It
// is idempotent: an existing aggregate is skipped, and when everything
// exists nothing is appended and the zero Result is returned. When another
// node creates the defaults at the same moment, the losing append conflicts
// and EnsureDefaults reloads once and skips what the winner created.
func (h *Handler) EnsureDefaults(ctx context.Context, m Meta) (Result, error) {
	m = h.withCommandID(m)
	for attempt := 0; ; attempt++ {
		batch, err := h.defaultsBatch(ctx, m)
		if err != nil || len(batch) == 0 {
			return Result{}, err
		}
		stored, err := h.store.Append(ctx, batch...)
		if errors.Is(err, ErrConflict) && attempt == 0 {
			continue
		}
		if err != nil {
			return Result{}, fmt.Errorf("ensure defaults: %w", err)
		}
		return Result{Seq: stored.Seq, Replayed: stored.Duplicate}, nil
	}
}

// defaultsBatch returns one create (Expected 0) per missing catalogue
// aggregate, with MsgIDs <commandID>/<i>.
func (h *Handler) defaultsBatch(ctx context.Context, m Meta) ([]Append, error) {
	now := h.Now()
	var payloads []events.Payload
	var ids []string
	proj, err := load(ctx, h, events.KindProject, defaultProject.ProjectID, FoldProject)
	if err != nil {
		return nil, err
	}
	if !proj.Exists {
		p, err := DecideCreateProject(proj, defaultProject)
		if err != nil {
			return nil, err
		}
		payloads, ids = append(payloads, p), append(ids, defaultProject.ProjectID)
	}
	for _, c := range defaultEnvirons {
		env, err := load(ctx, h, events.KindEnvironment, c.Name, FoldEnvironment)
		if err != nil {
			return nil, err
		}
		if env.Exists {
			continue
		}
		p, err := DecideCreateEnvironment(env, c)
		if err != nil {
			return nil, err
		}
		payloads, ids = append(payloads, p), append(ids, c.Name)
	}
	batch := make([]Append, 0, len(payloads))
	for i, p := range payloads {
		env, err := h.envelope(m, ids[i], p, "", now)
		if err != nil {
			return nil, err
		}
		batch = append(batch, Append{Event: env, Expected: 0, MsgID: fmt.Sprintf("%s/%d", m.CommandID, i)})
	}
	return batch, nil
}
