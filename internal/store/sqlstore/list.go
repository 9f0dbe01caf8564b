package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// List returns a page of an organization's resources; the filter runs in the database.
func (s *Store) List(ctx context.Context, org string, kind store.Kind, q store.Query) (*store.Page, error) {
	t := newTranslator(s.d, kind)
	where := "r.org = " + t.arg(org)
	if q.Filter != nil {
		cond, err := t.where(q.Filter)
		if err != nil {
			return nil, err
		}
		where += " AND " + cond
	}
	if page, ok, err := s.batchedLookup(ctx, org, kind, where, t.args, q); ok {
		return page, err
	}
	page := &store.Page{}
	filterArgs := append([]any(nil), t.args...)
	count := func() error {
		rows, err := s.listQuery(ctx, s.qShaped(`SELECT COUNT(*) FROM `+table(kind)+` r WHERE `+where), q, filterArgs)
		if err == nil {
			err = scanOne(rows, &page.Total)
		}
		if err != nil {
			return fmt.Errorf("counting %ss: %w", kind, err)
		}
		return nil
	}
	if q.Count <= 0 {
		return page, count()
	}
	order, err := listOrder(t, q)
	if err != nil {
		return nil, err
	}
	start := max(q.StartIndex, 1)
	query, isBounded := s.listStatement(t, kind, where, order, q.Count, start, q.WithGroups && kind == store.KindUser)
	withGroups := isBounded // a page of one user at most: its groups come with it, within userGroupsRead
	if isBounded {
		ctx = bounded(ctx)
	}
	rows, err := s.listQuery(ctx, query, q, t.args)
	if err != nil {
		return nil, fmt.Errorf("listing %ss: %w", kind, err)
	}
	defer func() { _ = rows.Close() }()
	var cut bool
	if page.Resources, page.DocumentBytes, cut, err = s.readPage(rows, org, kind, withGroups); err != nil {
		return nil, err
	}
	// A short page that is not past the end tells the total without counting (the common case:
	// a lookup by userName), saving a query.
	if n := len(page.Resources); !cut && n < q.Count && (n > 0 || start == 1) {
		page.Total = start - 1 + n
		return page, nil
	}
	return page, count()
}

// readPage reads a page's rows, up to store.MaxPageBytes of documents (the first always kept),
// and says how many bytes of documents it read and whether it stopped before the rows' end for
// it. SQLite reads no row past that; PostgreSQL has sent them (closing the rows reads them all),
// so they are read, counted and dropped: the page is charged for the work it caused.
func (s *Store) readPage(rows *sql.Rows, org string, kind store.Kind, withGroups bool) ([]*store.Resource, int, bool, error) {
	var out []*store.Resource
	docBytes, cut := 0, false
	for rows.Next() {
		var groups string
		scan := rows.Scan
		if withGroups {
			scan = func(dest ...any) error { return rows.Scan(append(dest, &groups)...) }
		}
		r, err := s.scan(scan, org, kind)
		if err != nil {
			return nil, 0, false, err
		}
		docBytes += len(r.Doc)
		if cut || docBytes > store.MaxPageBytes && len(out) > 0 {
			if cut = true; s.d.name() != "postgres" {
				return out, docBytes, true, nil // the rows after it are left unread (Close)
			}
			continue
		}
		if withGroups {
			if r.Groups, err = decodeGroups(groups); err != nil {
				return nil, 0, false, err
			}
			r.GroupsLoaded = true
		}
		out = append(out, r)
	}
	return out, docBytes, cut, rows.Err()
}

// listQuery runs a statement of List. On PostgreSQL a statement of a compound filter (and, or,
// not, a value path) is run unprepared, its description not cached either (one round trip more):
// such shapes are as many as clients care to send, and each prepared one would hold a generic
// plan in every pooled connection's server process until evicted, each cached description up to
// 40 KB of text in the manager. A filter of one comparison has a shape the schema bounds (an attribute and an
// operator), and stays prepared as every other statement is.
func (s *Store) listQuery(ctx context.Context, query string, q store.Query, args []any) (*sql.Rows, error) {
	if s.d.name() != "postgres" || !compound(q.Filter) {
		return s.query(ctx, query, args...)
	}
	unprepared := append([]any{pgx.QueryExecModeDescribeExec}, args...) // nothing kept, on either side
	return s.db.QueryContext(ctx, query, unprepared...)                 //nolint:gosec // schema paths; client values are parameters (filter.go)
}

// compound reports a filter of more than one comparison.
func compound(e filter.Expression) bool {
	switch e.(type) {
	case nil, *filter.AttributeExpression:
		return false
	}
	return true
}

// scanOne reads the one row of rows into dest and closes rows.
func scanOne(rows *sql.Rows, dest ...any) error {
	defer func() { _ = rows.Close() }()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	return rows.Close()
}

// listStatement is List's page statement, adding its LIMIT and OFFSET to t's arguments; bounded
// says it is a lookup by userName (one user at most), with its groups when asked, built once and
// run without cancellation (bounded_reads.go). Other pages come without groups: a page of a
// thousand users, each read with up to userGroupsRead groups, is no bounded read.
func (s *Store) listStatement(t *translator, kind store.Kind, where, order string, count, start int, withGroups bool) (query string, isBounded bool) {
	if withGroups && where == userNameEquals && order == defaultOrder {
		t.args = append(t.args, count, start-1)
		return s.boundedStmts.userByName, true
	}
	return s.qShaped(`SELECT ` + resourceColumns + ` FROM ` + table(kind) + ` r WHERE ` + where +
		` ORDER BY ` + order + ` LIMIT ` + t.arg(count) + ` OFFSET ` + t.arg(start-1)), false
}

// decodeGroups reads userGroups' JSON array of [id, name] pairs.
func decodeGroups(raw string) ([]store.Member, error) {
	var pairs [][2]string
	if err := json.Unmarshal([]byte(raw), &pairs); err != nil {
		return nil, fmt.Errorf("reading a user's groups: %w", err)
	}
	if len(pairs) == 0 {
		return nil, nil
	}
	out := make([]store.Member, len(pairs))
	for i, p := range pairs {
		out[i] = store.Member{Value: p[0], Type: store.KindGroup, Display: p[1]}
	}
	return out, nil
}

// userNameEquals is the translation of `userName eq "…"` (filter.go): arguments org and the
// lower-cased userName.
const userNameEquals = "r.org = ? AND (r.name_lower IS NOT NULL AND r.name_lower = ?)"

// batchedLookup answers `userName eq` (the filter's translation is exactly the organization and
// the lower-cased userName) from the lookup batcher, on PostgreSQL (lookups.go).
func (s *Store) batchedLookup(ctx context.Context, org string, kind store.Kind, where string, args []any, q store.Query) (*store.Page, bool, error) {
	if s.lookups == nil || kind != store.KindUser || where != userNameEquals || q.SortBy != "" ||
		max(q.StartIndex, 1) != 1 || q.Count < 1 || len(args) != 2 {
		return nil, false, nil
	}
	name, ok := args[1].(string)
	if !ok {
		return nil, false, nil
	}
	r, err := s.lookups.find(ctx, org, name)
	if err != nil {
		return nil, true, err
	}
	page := &store.Page{}
	if r != nil {
		page.Total, page.Resources = 1, []*store.Resource{r}
	}
	return page, true, nil
}

// listOrder is a list's ORDER BY: creation order, or the sort attribute's with creation order
// breaking ties.
// defaultOrder is a page's order without sortBy: creation.
const defaultOrder = "r.seq"

func listOrder(t *translator, q store.Query) (string, error) {
	if q.SortBy == "" {
		return defaultOrder, nil
	}
	expr, err := t.sortExpression(q.SortBy)
	if err != nil {
		return "", err
	}
	// Resources without the attribute sort last ascending, first descending (RFC 7644
	// §3.4.2.3); seq keeps the order stable.
	if q.SortDescending {
		return "(" + expr + " IS NULL) DESC, " + expr + " DESC, r.seq", nil
	}
	return "(" + expr + " IS NULL), " + expr + " ASC, r.seq", nil
}
