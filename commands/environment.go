package commands

import (
	"context"
	"time"

	"github.com/tokenledger/tokenledger/events"
)

// Environment types of the predefined environments. Other types are
// accepted (Unleash's UI also offers test and preproduction).
const (
	EnvTypeDevelopment = "development"
	EnvTypeProduction  = "production"
)

// CreateEnvironment asks for an environment.
type CreateEnvironment struct {
	Name string // 1–100 of A–Z a–z 0–9 _ -; the aggregate id
	Type string // optional, same character set, e.g. development, production
}

// DecideCreateEnvironment validates an environment and returns the
// environment.created payload.
func DecideCreateEnvironment(s EnvironmentState, c CreateEnvironment) (events.EnvironmentCreated, error) {
	if s.Exists {
		return events.EnvironmentCreated{}, ErrExists
	}
	if err := checkID("name", c.Name); err != nil {
		return events.EnvironmentCreated{}, err
	}
	if c.Type != "" {
		if err := checkID("type", c.Type); err != nil {
			return events.EnvironmentCreated{}, err
		}
	}
	return events.EnvironmentCreated{Type: c.Type}, nil
}

// CreateEnvironment creates an environment. Returns ErrExists when the name
// is taken, a ValidationError for a bad field.
func (h *Handler) CreateEnvironment(ctx context.Context, m Meta, c CreateEnvironment) (Result, error) {
	return onAggregate(ctx, h, m, events.KindEnvironment, c.Name, true, FoldEnvironment, func(s EnvironmentState, _ time.Time) (events.Payload, error) {
		return DecideCreateEnvironment(s, c)
	})
}
