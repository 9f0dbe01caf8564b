package store

import (
	"context"
	"fmt"
	"time"
)

// Summary is where an organization's provisioning stands: the one computation the
// ScimIntegration's status, the admin API and the wizard all show.
type Summary struct {
	// Members counts members per state.
	Members map[string]int64
	Groups  int64
	// Held counts deprovisionings the mass-deprovisioning guard holds.
	Held int64
	// LastRequest is the identity provider's latest request with a valid token (a refusal says
	// nothing of who sent it), LastError its latest refused or failed one (nil: none yet).
	LastRequest, LastError *AuditEvent
	// LastSuccessAt is when a request of the identity provider last succeeded.
	LastSuccessAt *time.Time
}

// SummaryReader is what Summarize reads.
type SummaryReader interface {
	MemberCounts(ctx context.Context, org string) (map[string]int64, error)
	HeldDeprovisions(ctx context.Context, org string) (int64, error)
	List(ctx context.Context, org string, kind Kind, q Query) (*Page, error)
	AuditEvents(ctx context.Context, org string, q AuditQuery) ([]AuditEvent, error)
}

// Summarize reads an organization's Summary.
func Summarize(ctx context.Context, s SummaryReader, org string) (*Summary, error) {
	out := &Summary{}
	var err error
	if out.Members, err = s.MemberCounts(ctx, org); err != nil {
		return nil, fmt.Errorf("counting members of %s: %w", org, err)
	}
	groups, err := s.List(ctx, org, KindGroup, Query{Count: 0})
	if err != nil {
		return nil, fmt.Errorf("counting groups of %s: %w", org, err)
	}
	out.Groups = int64(groups.Total)
	if out.Held, err = s.HeldDeprovisions(ctx, org); err != nil {
		return nil, fmt.Errorf("counting held deprovisionings of %s: %w", org, err)
	}
	// The latest requests are looked for among the organization's newest AuditScanWindow audit
	// events (its failures, for the last failure): an older one is history, and the summary of
	// an organization with millions of events in a row without a success (or with no SCIM
	// request at all) costs no more than another's.
	latest := func(q AuditQuery) (*AuditEvent, error) {
		q.Limit, q.SCIMRequests, q.Window = 1, true, AuditScanWindow
		events, err := s.AuditEvents(ctx, org, q)
		if err != nil || len(events) == 0 {
			return nil, err
		}
		return &events[0], nil
	}
	if out.LastRequest, err = latest(AuditQuery{Authenticated: true}); err != nil {
		return nil, fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	if out.LastError, err = latest(AuditQuery{Failed: true}); err != nil {
		return nil, fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	success, err := latest(AuditQuery{Succeeded: true})
	if err != nil {
		return nil, fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	if success != nil {
		out.LastSuccessAt = &success.Time
	}
	return out, nil
}
