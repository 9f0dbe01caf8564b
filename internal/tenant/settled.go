package tenant

import (
	"context"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// settle records that the Source decided on an integration (served or not); r.mu is held.
func (r *Registry) settle(integration types.NamespacedName) {
	if r.settled != nil {
		r.settled[integration] = true
	}
}

// WaitSettled waits until the Source has decided on every one of integrations (those in the
// cache when the data plane starts), for at most timeout, and returns how many it has not. A
// replica that listened before would answer 401 to an organization it has simply not loaded yet:
// during a rolling restart, identity providers would see failures from a replica that looks
// ready. Recording stops afterwards, so the record does not grow with deleted integrations.
func (r *Registry) WaitSettled(ctx context.Context, integrations []types.NamespacedName, timeout time.Duration) int {
	defer func() {
		r.mu.Lock()
		r.settled = nil
		r.mu.Unlock()
	}()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		pending := r.unsettled(integrations)
		if pending == 0 || time.Now().After(deadline) {
			return pending
		}
		select {
		case <-ctx.Done():
			return pending
		case <-tick.C:
		}
	}
}

func (r *Registry) unsettled(integrations []types.NamespacedName) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, key := range integrations {
		if r.settled != nil && !r.settled[key] {
			n++
		}
	}
	return n
}
