package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

type environmentJSON struct {
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"createdAt"`
}

func (s *Server) listEnvironments(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		Version      int               `json:"version"`
		Environments []environmentJSON `json:"environments"`
	}{Version: 1, Environments: []environmentJSON{}}
	for _, e := range s.dir.Environments() {
		out.Environments = append(out.Environments, environmentJSON{Name: e.Name, Type: e.Type, Enabled: true, CreatedAt: e.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) createEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	res, err := s.cmd.CreateEnvironment(r.Context(), s.meta(r, p), commands.CreateEnvironment{Name: b.Name, Type: b.Type})
	if errors.Is(err, commands.ErrExists) {
		return conflict("An environment with this name already exists (names of deleted environments are not reused)")
	}
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindEnvironment, b.Name)
	if err != nil {
		return err
	}
	e, _ := d.Environment(b.Name)
	writeJSON(w, createdStatus(res), toEnvironmentJSON(e))
	return nil
}

func toEnvironmentJSON(e directory.Environment) environmentJSON {
	return environmentJSON{Name: e.Name, Type: e.Type, Enabled: true, CreatedAt: e.CreatedAt.UTC()}
}

// liveEnvironment returns the live environment the path's {name} names, or
// a 404 error.
func (s *Server) liveEnvironment(r *http.Request) (directory.Environment, error) {
	name := r.PathValue("name")
	e, ok := s.dir.Environment(name)
	if !ok {
		return directory.Environment{}, notFound("Could not find the environment")
	}
	return e, nil
}

// updateEnvironment is Unleash's PUT /api/admin/environments/update/{name}:
// it changes the environment's type with one environment.updated event and
// answers 200 with the environment. ADMIN only; 404 for an unknown or
// deleted environment.
func (s *Server) updateEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.liveEnvironment(r)
	if err != nil {
		return err
	}
	var b struct {
		Type string `json:"type"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	res, err := s.cmd.UpdateEnvironment(r.Context(), s.meta(r, p), commands.UpdateEnvironment{Name: e.Name, Type: b.Type})
	if errors.Is(err, commands.ErrNotFound) {
		return notFound("Could not find the environment")
	}
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindEnvironment, e.Name)
	if err != nil {
		return err
	}
	e, _ = d.Environment(e.Name)
	writeJSON(w, http.StatusOK, toEnvironmentJSON(e))
	return nil
}

// deleteEnvironment deletes an environment and revokes its live client,
// backend and frontend tokens (reason environment-deleted) in the same
// atomic append as environment.deleted; admin tokens ("*") are untouched.
// ADMIN only; 404 for an unknown or deleted environment, 403 for the last
// environment. The name is not given to a new environment afterwards.
func (s *Server) deleteEnvironment(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	e, err := s.liveEnvironment(r)
	if err != nil && retry(r) && commands.ValidID(r.PathValue("name")) {
		// Perhaps the retry of a deletion: the directory no longer lists the
		// environment, but the command recognises its own first attempt
		// (and answers not found otherwise).
		e, err = directory.Environment{Name: r.PathValue("name")}, nil
	}
	if err != nil {
		return err
	}
	// The command reads the other environments and finds the tokens the
	// deletion cascades to.
	res, err := s.cmd.DeleteEnvironment(r.Context(), s.meta(r, p), commands.DeleteEnvironment{Name: e.Name})
	return s.written(w, r, res, err)
}
