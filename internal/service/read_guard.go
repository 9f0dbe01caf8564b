package service

import (
	"context"
	"net/http"
	"sync"
)

// The reads of the admin API and the wizard whose cost grows with an organization's data (its
// status summary, audit log pages, member pages) share the store's connection pool with every
// organization's SCIM traffic. At most maxHeavyReads of them run at once, and at most
// maxHeavyReadsPerNamespace for one tenant's namespace; the others wait their turn. A tenant
// looping expensive queries holds a bounded share of the pool, and its own queue, not the
// others', grows.
const (
	maxHeavyReads             = 4
	maxHeavyReadsPerNamespace = 2
)

type readGuard struct {
	// inAll and perNamespace are the turns (zero: maxHeavyReads, maxHeavyReadsPerNamespace).
	inAll, perNamespace int

	once        sync.Once
	all         chan struct{}
	mu          sync.Mutex
	byNamespace map[string]*namespaceTurns
}

// namespaceTurns is one namespace's turns, and how many requests hold or wait for one.
type namespaceTurns struct {
	turns chan struct{}
	users int
}

// start waits for a turn of namespace's and then one of all (in that order, so a namespace's
// waiting requests never sit on the turns every namespace shares); done must follow a nil.
func (g *readGuard) start(ctx context.Context, namespace string) error {
	g.once.Do(func() {
		if g.inAll == 0 {
			g.inAll, g.perNamespace = maxHeavyReads, maxHeavyReadsPerNamespace
		}
		g.all, g.byNamespace = make(chan struct{}, g.inAll), map[string]*namespaceTurns{}
	})
	g.mu.Lock()
	n := g.byNamespace[namespace]
	if n == nil {
		n = &namespaceTurns{turns: make(chan struct{}, g.perNamespace)}
		g.byNamespace[namespace] = n
	}
	n.users++
	g.mu.Unlock()
	select {
	case n.turns <- struct{}{}:
	case <-ctx.Done():
		g.leave(namespace, n)
		return errNoTurn
	}
	select {
	case g.all <- struct{}{}:
		return nil
	case <-ctx.Done():
		<-n.turns
		g.leave(namespace, n)
		return errNoTurn
	}
}

// errNoTurn answers a request that gave up (or timed out) waiting for its turn: nothing failed
// to be logged, and a retry may find one.
var errNoTurn = Refuse(http.StatusServiceUnavailable, "Busy with other reads of this kind; try again in a moment")

func (g *readGuard) done(namespace string) {
	<-g.all
	g.mu.Lock()
	n := g.byNamespace[namespace]
	g.mu.Unlock()
	<-n.turns
	g.leave(namespace, n)
}

// leave forgets a namespace nobody holds or waits for.
func (g *readGuard) leave(namespace string, n *namespaceTurns) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n.users--; n.users == 0 {
		delete(g.byNamespace, namespace)
	}
}
