package service

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Members pages through the organization's members (state filter, text search, cursor).
func (s *Service) Members(ctx context.Context, org *tenant.Organization, q store.MemberQuery) ([]store.MemberRecord, string, error) {
	list, next, err := s.Store.ListMembers(ctx, org.Name, q)
	if err != nil {
		return nil, "", s.internal(err)
	}
	return list, next, nil
}

// Member reads one member with its employee record and history.
func (s *Service) Member(ctx context.Context, org *tenant.Organization, id string) (*store.MemberRecord, error) {
	rec, err := s.Store.Member(ctx, org.Name, id)
	if err != nil {
		return nil, s.internal(err)
	}
	return rec, nil
}

// Review approves or rejects a member waiting for review; a member not waiting is left as it is.
func (s *Service) Review(ctx context.Context, org *tenant.Organization, who Actor, id string, approve bool) (*store.MemberRecord, error) {
	action := "member.reject"
	if approve {
		action = "member.approve"
	}
	rec, err := s.Store.ReviewMember(ctx, org.Name, id, approve, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: action, Client: "admin:" + who.User,
		Method: who.Method, Path: who.Path, Status: http.StatusOK,
	})
	if err != nil {
		return nil, s.internal(err)
	}
	return rec, nil
}

// Release applies the deprovisionings the mass-deprovisioning guard holds, in order.
func (s *Service) Release(ctx context.Context, org *tenant.Organization, who Actor) (int, error) {
	n, err := s.Store.ReleaseDeprovisions(ctx, org.Name, org.Policy, store.AuditEvent{
		Time: time.Now().UTC(), RequestID: requestID(), Action: "deprovisioning.release", Client: "admin:" + who.User,
		Method: who.Method, Path: who.Path, ResourceType: "ScimIntegration", ResourceID: org.Integration.Name, Status: http.StatusOK,
	})
	if err != nil {
		return 0, s.internal(err)
	}
	return n, nil
}

func requestID() string {
	return strconv.FormatInt(time.Now().UnixNano(), 36)
}
