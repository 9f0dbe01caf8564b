package storetest

import (
	"context"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Update is a read-prepare-write as the SCIM handlers do it (internal/scim/update.go), without
// their retries: it reads the resource, requires ifVersion when set, and writes fn's change only
// if the resource is still at the version read.
func Update(ctx context.Context, s store.Store, org string, kind store.Kind, id string, ifVersion int64,
	fn func(current *store.Resource) (*store.Change, error), w store.Write) (*store.Resource, error) {
	current, err := s.Get(ctx, org, kind, id)
	if err != nil {
		return nil, err
	}
	if ifVersion > 0 && current.Version != ifVersion {
		return nil, store.ErrVersionMismatch
	}
	change, err := fn(current)
	if err != nil {
		return nil, err
	}
	return s.Update(ctx, current, change, w)
}
