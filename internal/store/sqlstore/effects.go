package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// effects records a SCIM write's audit event and, under a policy, hands the write to
// provisioning, inside the write's transaction. apply is nil for a write that changed nothing.
func (s *Store) effects(ctx context.Context, tx *sql.Tx, w store.Write, org, resourceID string,
	apply func(provisioning.Tx, provisioning.Origin) error) error {
	return s.effectsLoaded(ctx, tx, w, org, resourceID, nil, apply)
}

// effectsLoaded is effects with what the write's first statement read for provisioning (read_ahead.go).
func (s *Store) effectsLoaded(ctx context.Context, tx *sql.Tx, w store.Write, org, resourceID string, ahead *readAhead,
	apply func(provisioning.Tx, provisioning.Origin) error) error {
	p := s.newProvisioningTx(tx)
	p.ahead = ahead
	return s.effectsOn(ctx, p, w, org, resourceID, apply)
}

// effectsOn is effects on a provisioning transaction the caller made.
func (s *Store) effectsOn(ctx context.Context, p provisioningTx, w store.Write, org, resourceID string,
	apply func(provisioning.Tx, provisioning.Origin) error) error {
	if w.Audit != nil {
		e := *w.Audit
		e.Org = org
		if e.ResourceID == "" {
			e.ResourceID = resourceID
		}
		// The request first, then what it did to the member.
		if err := p.write(ctx, auditWrite(e)); err != nil {
			return fmt.Errorf("recording audit event: %w", err)
		}
	}
	if w.Policy != nil && apply != nil {
		if err := apply(p, originOf(w.Audit)); err != nil {
			return err
		}
	}
	return p.finish(ctx)
}

// originOf is who made a write and when, from its audit event.
func originOf(audit *store.AuditEvent) provisioning.Origin {
	o := provisioning.Origin{Time: time.Now().UTC()}
	if audit == nil {
		return o
	}
	o.RequestID = audit.RequestID
	switch {
	case audit.TokenFingerprint != "":
		o.Actor = "token:" + audit.TokenFingerprint
	case strings.HasPrefix(audit.Client, "admin:"):
		o.Actor = audit.Client
	}
	return o
}
