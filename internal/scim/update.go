package scim

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// maxUpdateAttempts bounds how often a PUT or PATCH without If-Match is prepared again because
// another write changed the resource between its read and its write.
const maxUpdateAttempts = 5

// errBusy: the resource kept changing under a request without If-Match; the client may retry.
var errBusy = &Error{Status: http.StatusServiceUnavailable,
	Detail: "The resource is being changed by other requests; retry the request"}

// prepareFunc computes a write from a snapshot of the resource: all of a request's CPU work
// (decoding, PATCH operations, re-encoding, change detection). A nil change writes nothing.
type prepareFunc func(current *store.Resource) (*store.Change, error)

// updatePrepared runs a PUT or PATCH optimistically (docs/decisions/0009-bounded-request-work.md):
// it reads the resource, prepares the change outside any transaction, then asks the store to
// apply it only if the resource is still at the version read. The store's transaction — on
// SQLite, on the one committer goroutine every organization shares — then only writes prepared
// rows, its UPDATE checking the version. With If-Match the client's version is required and a
// mismatch is 412; without it a lost race is prepared again, at most maxUpdateAttempts times.
func (h *resourceHandler) updatePrepared(ctx context.Context, org, id string, ifVersions []int64, prepare prepareFunc, w store.Write) (*store.Resource, error) {
	// Requests for one resource on this replica take turns, so they do not make each other
	// prepare again; writes from other replicas are caught by the version check.
	unlock := resourceLocks.lock(org + "\x00" + string(h.kind) + "\x00" + id)
	defer unlock()
	for attempt := 1; ; attempt++ {
		current, err := h.server.Store.GetForUpdate(ctx, org, h.kind, id)
		if err != nil {
			return nil, err
		}
		if len(ifVersions) > 0 && !slices.Contains(ifVersions, current.Version) {
			return nil, store.ErrVersionMismatch
		}
		if hook := testHookPrepared; hook != nil {
			hook(org)
		}
		change, err := prepare(current)
		if err != nil {
			return nil, err
		}
		res, err := h.server.Store.Update(ctx, current, change, w)
		if !errors.Is(err, store.ErrVersionMismatch) || len(ifVersions) > 0 {
			return res, err
		}
		if attempt == maxUpdateAttempts {
			return nil, errBusy
		}
	}
}

// testHookPrepared, when set by a test, runs after a write's snapshot is read and before it is
// prepared: a test can hold one organization's PATCH there and show other writes proceed.
var testHookPrepared func(org string)

// resourceLocks serialises a replica's writes per resource. It is process-wide rather than per
// Server because resource ids are random UUIDs: two Servers (tests) never share a key by accident.
var resourceLocks keyedLocks

// keyedLocks hands out one mutex per key, kept only while someone holds or waits for it.
type keyedLocks struct {
	mu    sync.Mutex
	locks map[string]*keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

func (k *keyedLocks) lock(key string) (unlock func()) {
	k.mu.Lock()
	if k.locks == nil {
		k.locks = map[string]*keyedLock{}
	}
	l := k.locks[key]
	if l == nil {
		l = &keyedLock{}
		k.locks[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return func() {
		l.Unlock()
		k.mu.Lock()
		if l.users--; l.users == 0 {
			delete(k.locks, key)
		}
		k.mu.Unlock()
	}
}
