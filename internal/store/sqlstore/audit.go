package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// refusalUpsert inserts an aggregated refusal, or adds its count to the row of the same key. The
// conflict target names the partial unique index of migration 0007 (the same syntax in SQLite
// and PostgreSQL). at_us moves to the latest refusal, so time-window queries (the ErrorBurst
// condition) see a refusal that is still going on.
var refusalUpsert = `INSERT INTO audit_events (` + strings.Join(auditColumns, ", ") + `, refusal_key) VALUES (` +
	inList(len(auditColumns)+1) + `) ON CONFLICT (org, refusal_key) WHERE refusal_key IS NOT NULL
	DO UPDATE SET event_count = audit_events.event_count + excluded.event_count, at_us = excluded.at_us`

// RecordRefusals adds aggregated refusals to their rows, in one transaction.
func (s *Store) RecordRefusals(ctx context.Context, refusals []store.Refusal) error {
	if len(refusals) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, r := range refusals {
			if r.Key == "" || r.Event.Org == "" {
				continue
			}
			if _, err := s.exec(ctx, tx, s.q(refusalUpsert), append(auditValues(r.Event), r.Key)...); err != nil {
				return fmt.Errorf("recording refused requests: %w", err)
			}
		}
		return nil
	})
}
