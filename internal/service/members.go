package service

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Members pages through the organization's members (state filter, text search, cursor), each
// with its emails, name, groups and permissions.
func (s *Service) Members(ctx context.Context, org *tenant.Organization, q store.MemberQuery) ([]MemberDetails, string, error) {
	if err := s.heavyReads.start(ctx, org.Integration.Namespace); err != nil {
		return nil, "", err
	}
	defer s.heavyReads.done(org.Integration.Namespace)
	list, next, err := s.Store.ListMembers(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	out, err := s.details(ctx, org, list)
	if err != nil {
		return nil, "", s.internal(err)
	}
	return out, next, nil
}

// Member reads one member with its employee record, history, emails, name, groups and permissions.
func (s *Service) Member(ctx context.Context, org *tenant.Organization, id string) (*MemberDetails, error) {
	rec, err := s.Store.Member(ctx, org.Name, id)
	if err != nil {
		return nil, s.internal(err)
	}
	return s.detailsOf(ctx, org, rec)
}

// Review approves or rejects a member waiting for review; a member not waiting is left as it is.
func (s *Service) Review(ctx context.Context, org *tenant.Organization, who Actor, id string, approve bool) (*MemberDetails, error) {
	action := "member.reject"
	if approve {
		action = "member.approve"
	}
	rec, err := s.Store.ReviewMember(ctx, org.Name, id, approve, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: action, Client: "admin:" + who.User,
		Method: who.Method, Path: who.Path, Status: http.StatusOK, Binding: org.Binding,
	})
	if err != nil {
		return nil, s.internal(err)
	}
	return s.detailsOf(ctx, org, rec)
}

func (s *Service) detailsOf(ctx context.Context, org *tenant.Organization, rec *store.MemberRecord) (*MemberDetails, error) {
	out, err := s.details(ctx, org, []store.MemberRecord{*rec})
	if err != nil {
		return nil, s.internal(err)
	}
	return &out[0], nil
}

// Release applies the deprovisionings the mass-deprovisioning guard holds, in order.
func (s *Service) Release(ctx context.Context, org *tenant.Organization, who Actor) (int, error) {
	n, err := s.Store.ReleaseDeprovisions(ctx, org.Name, org.Policy, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: "deprovisioning.release", Client: "admin:" + who.User,
		Method: who.Method, Path: who.Path, ResourceType: "ScimIntegration", ResourceID: org.Integration.Name, Status: http.StatusOK,
		Binding: org.Binding,
	})
	if errors.Is(err, provisioning.ErrReleaseInDryRun) {
		return 0, Refuse(http.StatusConflict, "%s", "The integration runs in DryRun mode: held deprovisionings are released in Enforce mode, where they are applied")
	}
	if err != nil && n > 0 {
		// Released in parts: those applied stay applied (and audited), the rest stays held.
		s.Log.Error("Releasing held deprovisionings stopped", "applied", n, "error", err)
		return n, Refuse(http.StatusInternalServerError, "Released %d held deprovisionings, then stopped; the rest stays held: release again", n)
	}
	if err != nil {
		return 0, s.internal(err)
	}
	return n, nil
}

func requestID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
