package httpapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tokenledger/tokenledger/commands"
	"github.com/tokenledger/tokenledger/events"
	"github.com/tokenledger/tokenledger/internal/authz"
	"github.com/tokenledger/tokenledger/projections/directory"
)

type serviceAccountJSON struct {
	ID        uint64    `json:"id"`
	Name      string    `json:"name"`
	Username  string    `json:"username"`
	RootRole  uint64    `json:"rootRole"`
	CreatedAt time.Time `json:"createdAt"`
}

func (s *Server) toServiceAccount(sa directory.ServiceAccount) serviceAccountJSON {
	return serviceAccountJSON{ID: sa.IntID, Name: sa.Name, Username: sa.Username,
		RootRole: s.roleIntID(sa.RootRole), CreatedAt: sa.CreatedAt.UTC()}
}

func (s *Server) serviceAccountFromPath(r *http.Request) (directory.ServiceAccount, error) {
	n, err := pathUint(r, "id")
	if err != nil {
		return directory.ServiceAccount{}, err
	}
	sa, ok := s.dir.ServiceAccountByIntID(n)
	if !ok || (sa.Deleted && !retry(r)) {
		return directory.ServiceAccount{}, notFound(fmt.Sprintf("Could not find service account with id %d", n))
	}
	return sa, nil
}

func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	out := struct {
		ServiceAccounts []serviceAccountJSON `json:"serviceAccounts"`
		RootRoles       []rootRole           `json:"rootRoles"`
	}{ServiceAccounts: []serviceAccountJSON{}, RootRoles: s.rootRoles()}
	for _, sa := range s.dir.ServiceAccounts() {
		out.ServiceAccounts = append(out.ServiceAccounts, s.toServiceAccount(sa))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

type serviceAccountBody struct {
	Name     string          `json:"name"`
	Username string          `json:"username"`
	RootRole json.RawMessage `json:"rootRole"`
}

func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	var b serviceAccountBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	role, err := s.roleRef(r, b.RootRole)
	if err != nil {
		return err
	}
	if err := s.noSecrets(w, r, "name", b.Name, "username", b.Username); err != nil {
		return err
	}
	m, said := s.createMeta(r, p)
	id, res, err := s.cmd.CreateServiceAccount(r.Context(), m, commands.CreateServiceAccount{ServiceAccountID: said,
		Name: b.Name, Username: b.Username, RootRole: role})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindServiceAccount, id)
	if err != nil {
		return err
	}
	sa, ok := d.ServiceAccount(id)
	if !ok {
		return fmt.Errorf("service account %s not in the directory after its write", id)
	}
	writeJSON(w, createdStatus(res), s.toServiceAccount(sa))
	return nil
}

func (s *Server) updateServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	var b struct {
		Name     *string         `json:"name"`
		RootRole json.RawMessage `json:"rootRole"`
	}
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	// Omitted fields are kept: the command decides on the service
	// account's own state, so a concurrent change is not reverted.
	var name, role string
	if b.Name != nil {
		name = *b.Name
	}
	if err := s.noSecretIn(w, r, "name", name); err != nil {
		return err
	}
	if len(b.RootRole) > 0 {
		if role, err = s.roleRef(r, b.RootRole); err != nil {
			return err
		}
	}
	res, err := s.cmd.UpdateServiceAccount(r.Context(), s.meta(r, p), commands.UpdateServiceAccount{ServiceAccountID: sa.ID, Name: name, RootRole: role})
	if err != nil {
		return err
	}
	d, err := s.afterWriteDir(w, r, res, events.KindServiceAccount, sa.ID)
	if err != nil {
		return err
	}
	sa, _ = d.ServiceAccount(sa.ID)
	writeJSON(w, http.StatusOK, s.toServiceAccount(sa))
	return nil
}

func (s *Server) deleteServiceAccount(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	res, err := s.cmd.DeleteServiceAccount(r.Context(), s.meta(r, p), sa.ID, nil)
	return s.written(w, r, res, err)
}

func (s *Server) listServiceAccountTokens(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	s.writePATs(w, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID}, sa.IntID)
	return nil
}

func (s *Server) createServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	var b createPATBody
	if err := s.decode(w, r, &b); err != nil {
		return err
	}
	return s.issueAccountToken(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID}, sa.IntID, b, false)
}

func (s *Server) deleteServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	t, err := s.accountTokenFromPath(r, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
	if err != nil {
		return err
	}
	return s.revoke(w, r, p, t.ID)
}

// PUT /api/admin/service-account/{id}/token/{tokenId}: {"expiresAt": … or null}.
func (s *Server) updateServiceAccountToken(w http.ResponseWriter, r *http.Request, p *authz.Principal) error {
	sa, err := s.serviceAccountFromPath(r)
	if err != nil {
		return err
	}
	return s.changeAccountTokenExpiry(w, r, p, events.Owner{Kind: events.ActorServiceAccount, ID: sa.ID})
}
