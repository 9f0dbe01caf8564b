package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SignOut records that a wizard user signed out at at, and forgets sign-outs older than at-keep
// (no session issued before them is alive any more): the table holds one row per user who
// signed out within a session's lifetime. A user's value always changes (sessions compare it for
// equality), even when this replica's clock is behind the one that recorded the last.
func (s *Store) SignOut(ctx context.Context, user string, at time.Time, keep time.Duration) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, s.q(`DELETE FROM wizard_sign_outs WHERE at_us < ?`), at.Add(-keep).UnixMicro()); err != nil {
			return fmt.Errorf("forgetting old sign-outs: %w", err)
		}
		if _, err := s.exec(ctx, tx, s.q(`INSERT INTO wizard_sign_outs (user_key, at_us) VALUES (?, ?)
			ON CONFLICT (user_key) DO UPDATE SET at_us = CASE WHEN excluded.at_us > wizard_sign_outs.at_us THEN excluded.at_us
				ELSE wizard_sign_outs.at_us + 1 END`), user, at.UnixMicro()); err != nil {
			return fmt.Errorf("recording a sign-out: %w", err)
		}
		return nil
	})
}

// SignedOutAt returns when a wizard user last signed out (zero: not within a session's lifetime).
func (s *Store) SignedOutAt(ctx context.Context, user string) (time.Time, error) {
	var at int64
	err := s.queryRow(ctx, nil, s.q(`SELECT at_us FROM wizard_sign_outs WHERE user_key = ?`), user).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("reading a sign-out: %w", err)
	}
	return time.UnixMicro(at), nil
}
