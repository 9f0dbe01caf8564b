package sqlstore

import (
	"context"
	"fmt"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// List returns a page of an organization's resources; the filter runs in the database.
func (s *Store) List(ctx context.Context, org string, kind store.Kind, q store.Query) (*store.Page, error) {
	t := newTranslator(s.d, kind)
	where := "r.org = " + t.arg(org)
	if q.Filter != nil {
		cond, err := t.expression(q.Filter)
		if err != nil {
			return nil, err
		}
		where += " AND " + cond
	}
	page := &store.Page{}
	filterArgs := append([]any(nil), t.args...)
	count := func() error {
		err := s.queryRow(ctx, nil, s.q(`SELECT COUNT(*) FROM `+table(kind)+` r WHERE `+where), filterArgs...).Scan(&page.Total)
		if err != nil {
			return fmt.Errorf("counting %ss: %w", kind, err)
		}
		return nil
	}
	if q.Count <= 0 {
		return page, count()
	}
	order := "r.seq"
	if q.SortBy != "" {
		expr, err := t.sortExpression(q.SortBy)
		if err != nil {
			return nil, err
		}
		dir := " ASC"
		if q.SortDescending {
			dir = " DESC"
		}
		// Resources without the attribute sort last either way; seq keeps the order stable.
		order = "(" + expr + " IS NULL), " + expr + dir + ", r.seq"
	}
	start := max(q.StartIndex, 1)
	query := `SELECT ` + resourceColumns + ` FROM ` + table(kind) + ` r WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ` + t.arg(q.Count) + ` OFFSET ` + t.arg(start-1)
	rows, err := s.query(ctx, s.q(query), t.args...)
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		r, err := s.scan(rows.Scan, org, kind)
		if err != nil {
			return nil, err
		}
		page.Resources = append(page.Resources, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A short page that is not past the end tells the total without counting (the common case:
	// a lookup by userName), saving a query.
	if n := len(page.Resources); n < q.Count && (n > 0 || start == 1) {
		page.Total = start - 1 + n
		return page, nil
	}
	return page, count()
}
