package ui

import "sync"

// Self-tests running at once: each holds a request for up to a few timeouts and reads the
// endpoint's answers.
const (
	maxSelfTests             = 8
	maxSelfTestsPerNamespace = 2
)

// selfTestGuard lets one self-test run per organization, maxSelfTestsPerNamespace per tenant
// namespace and maxSelfTests in all: an admin resubmitting the form, or a tenant's many
// organizations, cannot run them by the dozen or take every other tenant's turn.
type selfTestGuard struct {
	mu          sync.Mutex
	running     map[string]bool
	byNamespace map[string]int
}

// start reports whether org's self-test may run now; done must follow a true.
func (g *selfTestGuard) start(org, namespace string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == nil {
		g.running, g.byNamespace = map[string]bool{}, map[string]int{}
	}
	if g.running[org] || len(g.running) >= maxSelfTests || g.byNamespace[namespace] >= maxSelfTestsPerNamespace {
		return false
	}
	g.running[org] = true
	g.byNamespace[namespace]++
	return true
}

func (g *selfTestGuard) done(org, namespace string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.running, org)
	if g.byNamespace[namespace]--; g.byNamespace[namespace] <= 0 {
		delete(g.byNamespace, namespace)
	}
}
