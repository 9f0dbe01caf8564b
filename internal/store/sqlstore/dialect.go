package sqlstore

import (
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// dialect is what differs between SQLite and PostgreSQL. Queries are written with '?' and
// rebound; JSON access is the main difference.
type dialect interface {
	name() string
	rebind(query string) string
	// rebindShaped is rebind for a statement shaped by what a client sent (a filter, a sort):
	// never kept, so no client's shapes take the cache from the code's own statements.
	rebindShaped(query string) string
	// jsonText is the text value at path inside the JSON column col. Paths are schema attribute
	// names (never request text) and are inlined as quoted literals, so an expression can be
	// repeated in a condition without repeating arguments.
	jsonText(col string, path []string) string
	// jsonElements is a FROM item yielding the elements of the JSON array at path as alias.value.
	jsonElements(col string, path []string, alias string) string
	// jsonObjectAsElement is a FROM item yielding the JSON object at path as the one element.
	jsonObjectAsElement(col string, path []string, alias string) string
	// elementText is the text of a field of an array element (alias.value); field "" is the
	// element itself.
	elementText(alias, field string) string
	// boolValue is how a JSON boolean reads through jsonText/elementText, and how the active
	// column stores one.
	jsonBool(b bool) any
	columnBool(b bool) any
	// doc is the placeholder for a JSON document argument.
	doc() string
	forUpdate() string
	// forUpdateOf locks the rows of one table of a join (PostgreSQL refuses FOR UPDATE on the
	// nullable side of an outer join).
	forUpdateOf(alias string) string
	isUniqueViolation(err error) bool
	// isRetryable reports a transaction the database aborted to break a deadlock or a
	// serialization conflict: running it again is safe and expected.
	isRetryable(err error) bool
	insertIgnore(insert string) string
	// userGroups is a column of a user row r: the groups directly containing it, as a JSON array
	// of [id, name] pairs in group id order (creation order for the ids this service makes,
	// UUIDv7), so a read loads them in the same query; at most userGroupsRead of them.
	userGroups() string
	// userGroupsUpTo is userGroups reading at most limit groups (an event's snapshot keeps
	// store.MaxSnapshotGroups: snapshotGroupsRead).
	userGroupsUpTo(limit string) string
}

type sqliteDialect struct{}

func (sqliteDialect) name() string { return "sqlite" }

// userGroups walks the member index (org, member_id, group_id) in order and stops at its LIMIT
// (userGroupsRead): no sort, and no more work for a user in a million groups than in 50,001.
// CROSS JOIN fixes SQLite's join order, as in GroupsOf.
func (d sqliteDialect) userGroups() string { return d.userGroupsUpTo(userGroupsRead) }

func (sqliteDialect) userGroupsUpTo(limit string) string {
	return `(SELECT json_group_array(json_array(x.id, x.name)) FROM (SELECT g.id, g.name FROM scim_group_members m
		CROSS JOIN scim_groups g WHERE g.org = m.org AND g.id = m.group_id AND m.org = r.org AND m.member_id = r.id
		ORDER BY m.group_id LIMIT ` + limit + `) x)`
}

// userGroupsRead is how many groups userGroups reads of a user: one more than a read returns
// (store.MaxMembershipsRead), so that a user in more can be told; snapshotGroupsRead one more
// than an event's snapshot keeps.
var (
	userGroupsRead     = strconv.Itoa(store.MaxMembershipsRead + 1)
	snapshotGroupsRead = strconv.Itoa(store.MaxSnapshotGroups + 1)
)

func (sqliteDialect) rebind(q string) string       { return q }
func (sqliteDialect) rebindShaped(q string) string { return q }
func (sqliteDialect) doc() string                  { return "?" }
func (sqliteDialect) forUpdate() string            { return "" } // the write transaction already holds the lock
func (sqliteDialect) forUpdateOf(string) string    { return "" }
func (sqliteDialect) isRetryable(error) bool       { return false } // one writer: no deadlocks
func (sqliteDialect) jsonBool(b bool) any          { return boolInt(b) }
func (sqliteDialect) columnBool(b bool) any        { return boolInt(b) }
func (sqliteDialect) insertIgnore(q string) string {
	return strings.Replace(q, "INSERT INTO", "INSERT OR IGNORE INTO", 1)
}

func (sqliteDialect) jsonText(col string, path []string) string {
	return "json_extract(" + col + ", " + literal(sqlitePath(path)) + ")"
}

func (sqliteDialect) jsonElements(col string, path []string, alias string) string {
	return "json_each(" + col + ", " + literal(sqlitePath(path)) + ") AS " + alias
}

func (sqliteDialect) jsonObjectAsElement(col string, path []string, alias string) string {
	return "json_each(json_array(json_extract(" + col + ", " + literal(sqlitePath(path)) + "))) AS " + alias
}

func (sqliteDialect) elementText(alias, field string) string {
	if field == "" {
		return alias + ".value"
	}
	return "json_extract(" + alias + ".value, " + literal(sqlitePath([]string{field})) + ")"
}

func (sqliteDialect) isUniqueViolation(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// sqlitePath quotes each element, so URNs with ':' and '.' stay one key.
func sqlitePath(path []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, p := range path {
		if isArrayIndex(p) { // an element of an array; SCIM attribute names start with a letter
			b.WriteString("[" + p + "]")
			continue
		}
		b.WriteString(`."`)
		b.WriteString(strings.ReplaceAll(p, `"`, `\"`))
		b.WriteString(`"`)
	}
	return b.String()
}

func isArrayIndex(p string) bool {
	if p == "" || len(p) > 9 {
		return false
	}
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

type postgresDialect struct{}

func (postgresDialect) name() string { return "postgres" }

func (d postgresDialect) userGroups() string { return d.userGroupsUpTo(userGroupsRead) }

func (postgresDialect) userGroupsUpTo(limit string) string {
	return postgresGroupsOf(`SELECT group_id FROM scim_group_members WHERE org = r.org AND member_id = r.id`, limit, "g.name")
}

// postgresGroupsOf is userGroups over the group ids from selects (a column group_id, of user r's
// organization): the first limit of them in id order whose group is there, with their names
// (name, an expression of the group g), as a JSON array. The join goes before the LIMIT: a
// deleted group's memberships may wait for the group worker (group_work.go), and must not take
// the places of groups that are there.
func postgresGroupsOf(from, limit, name string) string {
	return `(SELECT COALESCE(json_agg(json_build_array(gm.id, gm.name) ORDER BY gm.id), '[]'::json)::text
		FROM (SELECT g.id, ` + name + ` AS name FROM (` + from + `) f JOIN scim_groups g ON g.org = r.org AND g.id = f.group_id
			ORDER BY f.group_id LIMIT ` + limit + `) gm)`
}
func (postgresDialect) doc() string                     { return "?::jsonb" }
func (postgresDialect) forUpdate() string               { return " FOR UPDATE" }
func (postgresDialect) forUpdateOf(alias string) string { return " FOR UPDATE OF " + alias }
func (postgresDialect) jsonBool(b bool) any             { return strconv.FormatBool(b) }
func (postgresDialect) columnBool(b bool) any           { return b }
func (postgresDialect) insertIgnore(q string) string {
	return q + " ON CONFLICT DO NOTHING"
}

// rebind turns '?' placeholders into $1, $2, … (the queries have no '?' inside literals). The
// result of every query up to rebindCacheBytes long is kept, up to rebindCacheEntries of them:
// rewriting each statement on every call cost 5 % of the manager's CPU on a create.
func (d postgresDialect) rebind(q string) string {
	if v, ok := rebound.Load(q); ok {
		return v.(string)
	}
	out := d.rebindShaped(q)
	if len(q) <= rebindCacheBytes && reboundEntries.Load() < rebindCacheEntries {
		if _, loaded := rebound.LoadOrStore(q, out); !loaded {
			reboundEntries.Add(1)
		}
	}
	return out
}

func (postgresDialect) rebindShaped(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// The rebind cache is bounded by entries and by the length of what it keeps (at most 4 MiB of
// keys): it keeps the code's own statements, IN lists giving some of them many shapes; statements
// shaped by a client's filter are rebound apart (rebindShaped) and never fill it.
const (
	rebindCacheEntries = 1024
	rebindCacheBytes   = 4096
)

var (
	rebound        sync.Map // query with '?' → query with $n
	reboundEntries atomic.Int64
)

func (postgresDialect) jsonText(col string, path []string) string {
	return "jsonb_extract_path_text(" + col + literals(path) + ")"
}

func (postgresDialect) jsonElements(col string, path []string, alias string) string {
	arr := "jsonb_extract_path(" + col + literals(path) + ")"
	return "jsonb_array_elements(CASE WHEN jsonb_typeof(" + arr + ") = 'array' THEN " + arr + " ELSE '[]'::jsonb END) AS " + alias + "(value)"
}

func (postgresDialect) jsonObjectAsElement(col string, path []string, alias string) string {
	return "jsonb_array_elements(jsonb_build_array(jsonb_extract_path(" + col + literals(path) + "))) AS " + alias + "(value)"
}

func (postgresDialect) elementText(alias, field string) string {
	if field == "" {
		return "(" + alias + ".value #>> '{}')"
	}
	return "(" + alias + ".value ->> " + literal(field) + ")"
}

func (postgresDialect) isRetryable(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && (e.Code == "40P01" || e.Code == "40001")
}

func (postgresDialect) isUniqueViolation(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

// literal quotes a schema-derived name as an SQL string literal.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// literals is ", 'a', 'b'" for a JSON path.
func literals(path []string) string {
	var b strings.Builder
	for _, p := range path {
		b.WriteString(", ")
		b.WriteString(literal(p))
	}
	return b.String()
}

func stringsToAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
