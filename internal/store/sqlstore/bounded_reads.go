package sqlstore

import "context"

// The two reads an identity provider's traffic is made of: a user by userName (Entra and Okta
// look one up before almost every write) and a user by id (every PATCH, PUT and GET starts with
// it). Both are an index equality within one organization, so their work is bounded however the
// request goes, and two costs that grow with nothing are left out of them:
//
//   - their statements are built once, not concatenated per request (about 1 KB each);
//   - they run without the request's cancellation: watching a context costs database/sql and the
//     SQLite driver a goroutine each per statement (about 4 % of a lookup's CPU, profiled), for a
//     statement that ends in microseconds anyway. Waiting for a pooled connection is bounded by
//     the pool's other statements, all as short.
//
// Statements whose work depends on what the client sends (other filters, sorting, paging) keep
// the request's context, so a client that goes away stops them.
type boundedReads struct {
	userByName, userByID string // List's userName eq page (ORDER BY seq LIMIT ? OFFSET ?); Get's user by id
}

func newBoundedReads(s *Store) boundedReads {
	withGroups := resourceColumns + ", " + s.d.userGroups()
	return boundedReads{
		userByName: s.q(`SELECT ` + withGroups + ` FROM scim_users r WHERE ` + userNameEquals + ` ORDER BY ` + defaultOrder + ` LIMIT ? OFFSET ?`),
		userByID:   s.q(`SELECT ` + withGroups + ` FROM scim_users r WHERE r.org = ? AND r.id = ?`),
	}
}

// bounded is the context a bounded read runs under: the request's values, not its cancellation.
func bounded(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }
