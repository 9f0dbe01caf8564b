package service

import (
	"context"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Status is where an organization's provisioning stands (store.Summarize, the computation the
// ScimIntegration's status.provisioning shows too).
type Status struct {
	Organization        string           `json:"organization"`
	Namespace           string           `json:"namespace"`
	ScimIntegration     string           `json:"scimIntegration"`
	Enabled             bool             `json:"enabled"`
	Members             map[string]int64 `json:"members"`
	Groups              int64            `json:"groups"`
	HeldDeprovisionings int64            `json:"heldDeprovisionings"`
	LastRequestAt       *time.Time       `json:"lastRequestAt,omitempty"`
	LastClient          string           `json:"lastClient,omitempty"`
	LastSuccessAt       *time.Time       `json:"lastSuccessAt,omitempty"`
	// LastError is the identity provider's last refused request.
	LastError *store.AuditEvent `json:"lastError,omitempty"`
}

// Status reads where the organization's provisioning stands.
func (s *Service) Status(ctx context.Context, org *tenant.Organization) (*Status, error) {
	if err := s.heavyReads.start(ctx, org.Integration.Namespace); err != nil {
		return nil, err
	}
	defer s.heavyReads.done(org.Integration.Namespace)
	sum, err := store.Summarize(ctx, s.Store, org.Name)
	if err != nil {
		return nil, s.internal(err)
	}
	out := &Status{Organization: org.Name, Namespace: org.Integration.Namespace, ScimIntegration: org.Integration.Name,
		Enabled: org.Enabled, Members: sum.Members, Groups: sum.Groups, HeldDeprovisionings: sum.Held,
		LastSuccessAt: sum.LastSuccessAt, LastError: sum.LastError}
	if sum.LastRequest != nil {
		out.LastRequestAt, out.LastClient = &sum.LastRequest.Time, sum.LastRequest.Client
	}
	return out, nil
}
