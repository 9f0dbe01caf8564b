package sqlstore

import (
	"context"
	"fmt"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// UsersByID returns the organization's users with these ids, keyed by id, in one query per 500
// ids; ids that name no user of the organization are left out.
func (s *Store) UsersByID(ctx context.Context, org string, ids []string) (map[string]*store.Resource, error) {
	out := make(map[string]*store.Resource, len(ids))
	for _, chunk := range chunks(ids) {
		err := s.eachRow(ctx, `SELECT `+resourceColumns+` FROM scim_users r WHERE r.org = ? AND r.id IN (`+inList(len(chunk))+`)`,
			append([]any{org}, stringsToAny(chunk)...), func(scan func(...any) error) error {
				r, err := s.scan(scan, org, store.KindUser)
				if err != nil {
					return err
				}
				out[r.ID] = r
				return nil
			})
		if err != nil {
			return nil, fmt.Errorf("reading users of %s: %w", org, err)
		}
	}
	return out, nil
}
