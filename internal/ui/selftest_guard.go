package ui

import "sync"

// maxSelfTests bounds the self-tests running at once in all: each holds a request for up to a
// few timeouts and reads the endpoint's answers.
const maxSelfTests = 4

// selfTestGuard lets one self-test run per organization, and maxSelfTests in all: an admin
// resubmitting the form, or a tenant's many organizations, cannot run them by the dozen.
type selfTestGuard struct {
	mu      sync.Mutex
	running map[string]bool
}

// start reports whether org's self-test may run now; done must follow a true.
func (g *selfTestGuard) start(org string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == nil {
		g.running = map[string]bool{}
	}
	if g.running[org] || len(g.running) >= maxSelfTests {
		return false
	}
	g.running[org] = true
	return true
}

func (g *selfTestGuard) done(org string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.running, org)
}
