package events

import (
	"container/heap"
	"context"
	"sort"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// The deliverer runs each (subscription, organization) pair on its own clock, not in passes that
// wait for their slowest pair: a pair runs again an interval after it finished (at once when it
// left events waiting), as soon as a worker is free. Workers are shared fairly between namespaces:
// at most perNamespace pairs of one namespace run at once, and free workers go to the namespaces
// in turn. So one tenant's many subscriptions to slow receivers hold at most its share of the
// workers, and every other namespace's events keep flowing.
//
// The scheduler's work grows with the pairs it starts, not with the pairs there are: pairs wait
// in a heap by the time they are due, and those due in one heap per namespace, longest waiting
// first. Scanning and sorting every pair whenever a run finished made a tenant's thousands of
// subscriptions cost the scheduler, which every namespace's deliveries wait on, the square of
// their number each interval.

// pairKey names a (subscription, organization) pair.
type pairKey struct {
	subscription, org string
}

func (j job) pairKey() pairKey { return pairKey{subscription: string(j.sub.UID), org: j.org.Name} }

// finished is a pair's run coming back to the scheduler.
type finished struct {
	key       pairKey
	namespace string
	full      bool
}

// schedule is the scheduler's state; only its loop touches it.
type schedule struct {
	workers, perNamespace int
	interval              time.Duration
	jobs                  map[pairKey]job // the pairs listed, as last listed
	running               map[pairKey]bool
	inNamespace           map[string]int
	// started is when each pair last started: a namespace's turn goes to its pair that waited
	// longest, so pairs that always have more to send do not keep its other pairs out.
	started map[pairKey]time.Time
	// ticket is a waiting pair's current entry; entries of a pair forgotten or queued again since
	// are stale and dropped when they come up.
	ticket map[pairKey]uint64
	next   uint64
	due    entries            // pairs waiting for their time, soonest first
	ready  map[string]entries // per namespace, pairs whose time has come, longest waiting first
	// turn rotates which namespace is served first.
	turn int
}

// entry is a waiting pair in a heap: at is when it is due (due) or last started (ready).
type entry struct {
	at     time.Time
	key    pairKey
	ticket uint64
}

// entries is a min-heap by at.
type entries []entry

func (h entries) Len() int           { return len(h) }
func (h entries) Less(a, b int) bool { return h[a].at.Before(h[b].at) }
func (h entries) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *entries) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *entries) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// run schedules the pairs jobs lists (read again every interval) until ctx ends; run(j) delivers
// one pair and reports whether it left events waiting.
func (s *schedule) run(ctx context.Context, jobs func() []job, deliver func(job) bool) {
	s.init()
	done := make(chan finished, s.workers)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	s.list(jobs())
	for {
		s.start(ctx, done, deliver)
		select {
		case <-ctx.Done():
			for len(s.running) > 0 { // let runs in flight record what they sent
				f := <-done
				delete(s.running, f.key)
			}
			return
		case f := <-done:
			s.finish(f)
		case <-tick.C:
			s.list(jobs())
		}
	}
}

func (s *schedule) init() {
	s.jobs, s.running, s.inNamespace, s.started = map[pairKey]job{}, map[pairKey]bool{}, map[string]int{}, map[pairKey]time.Time{}
	s.ticket, s.ready = map[pairKey]uint64{}, map[string]entries{}
}

// list takes the pairs listed now: new ones are due at once, gone ones are forgotten.
func (s *schedule) list(jobs []job) {
	listed := make(map[pairKey]bool, len(jobs))
	for _, j := range jobs {
		k := j.pairKey()
		listed[k] = true
		_, known := s.jobs[k]
		s.jobs[k] = j
		if !known && !s.running[k] {
			s.queueReady(k)
		}
	}
	forgot := false
	for k := range s.jobs {
		if !listed[k] {
			delete(s.jobs, k)
			delete(s.ticket, k)
			if !s.running[k] {
				delete(s.started, k)
			}
			forgot = true
		}
	}
	if forgot {
		s.compact()
	}
}

// compact drops the entries of pairs forgotten, so the heaps stay the size of the pairs listed
// (a list that failed once and came back would otherwise leave every pair's entry twice).
func (s *schedule) compact() {
	keep := func(h entries) entries {
		kept := h[:0]
		for _, e := range h {
			if s.current(e) {
				kept = append(kept, e)
			}
		}
		heap.Init(&kept)
		return kept
	}
	s.due = keep(s.due)
	for ns, h := range s.ready {
		if h = keep(h); len(h) == 0 {
			delete(s.ready, ns)
		} else {
			s.ready[ns] = h
		}
	}
}

// queueReady makes a listed pair wait for a worker; queueDue for its time.
func (s *schedule) queueReady(k pairKey) {
	s.next++
	s.ticket[k] = s.next
	ns := s.jobs[k].sub.Namespace
	h := s.ready[ns]
	heap.Push(&h, entry{at: s.started[k], key: k, ticket: s.next})
	s.ready[ns] = h
}

func (s *schedule) queueDue(k pairKey, at time.Time) {
	s.next++
	s.ticket[k] = s.next
	heap.Push(&s.due, entry{at: at, key: k, ticket: s.next})
}

// current reports whether e is its pair's entry (the pair listed and not queued again since).
func (s *schedule) current(e entry) bool {
	t, ok := s.ticket[e.key]
	return ok && t == e.ticket
}

// start starts the due pairs that fit: namespaces in turn, one pair each round, until the
// workers are busy or no namespace has a startable pair.
func (s *schedule) start(ctx context.Context, done chan<- finished, deliver func(job) bool) {
	now := time.Now()
	for len(s.due) > 0 && !s.due[0].at.After(now) {
		if e := heap.Pop(&s.due).(entry); s.current(e) {
			s.queueReady(e.key)
		}
	}
	if len(s.running) >= s.workers {
		return
	}
	namespaces := make([]string, 0, len(s.ready))
	for ns := range s.ready {
		namespaces = append(namespaces, ns)
	}
	if len(namespaces) == 0 {
		return
	}
	sort.Strings(namespaces)
	s.turn++
	first := s.turn % len(namespaces)
	namespaces = append(namespaces[first:], namespaces[:first]...)
	for progress := true; progress && len(s.running) < s.workers; {
		progress = false
		for _, ns := range namespaces {
			if len(s.running) >= s.workers {
				return
			}
			if s.inNamespace[ns] >= s.perNamespace {
				continue
			}
			j, ok := s.nextReady(ns)
			if !ok {
				continue
			}
			s.running[j.pairKey()] = true
			s.started[j.pairKey()] = now
			s.inNamespace[ns]++
			progress = true
			go func() {
				full := false
				defer func() { done <- finished{key: j.pairKey(), namespace: j.sub.Namespace, full: full} }()
				if ctx.Err() == nil {
					full = deliver(j)
				}
			}()
		}
	}
}

// nextReady takes namespace ns's longest-waiting pair, dropping stale entries.
func (s *schedule) nextReady(ns string) (job, bool) {
	h := s.ready[ns]
	defer func() {
		if len(h) == 0 {
			delete(s.ready, ns)
		} else {
			s.ready[ns] = h
		}
	}()
	for len(h) > 0 {
		e := heap.Pop(&h).(entry)
		if s.current(e) {
			delete(s.ticket, e.key)
			return s.jobs[e.key], true
		}
	}
	return job{}, false
}

// finish frees a pair's worker and sets when it runs next.
func (s *schedule) finish(f finished) {
	delete(s.running, f.key)
	if s.inNamespace[f.namespace]--; s.inNamespace[f.namespace] <= 0 {
		delete(s.inNamespace, f.namespace)
	}
	if _, listed := s.jobs[f.key]; !listed {
		delete(s.started, f.key) // gone while it ran
		return
	}
	if f.full {
		s.queueReady(f.key) // more are waiting: as soon as a worker is free
		return
	}
	s.queueDue(f.key, time.Now().Add(s.interval))
}

// deliverLogged delivers one pair and logs what failed; it reports whether events were left
// waiting.
func (d *Deliverer) deliverLogged(ctx context.Context, j job) bool {
	if d.idle.skip(j.pairKey(), d.now()) {
		return false // nothing new since its last run (idle.go)
	}
	j, ok := d.current(ctx, j)
	if !ok {
		return false
	}
	full, err := d.deliver(ctx, j)
	if err != nil && ctx.Err() == nil {
		d.Log.Error(err, "Delivering events", "subscription", client.ObjectKeyFromObject(j.sub), "organization", j.org.Name)
	}
	return full && err == nil
}

// current is the pair with its subscription as the cache has it now: the schedule's list is up to
// an interval old, and a subscription deleted, paused or narrowed since must not be served from
// it (a deleted one's state, once forgotten, would start again from its creation).
func (d *Deliverer) current(ctx context.Context, j job) (job, bool) {
	if d.Registry != nil {
		org, ok := d.Registry.Organization(j.org.Name)
		if !ok || org.Integration != j.org.Integration {
			return j, false // no longer served, or served for another integration
		}
		j.org = org
	}
	if d.Client == nil {
		return j, true
	}
	sub := &v1alpha1.EventSubscription{}
	if err := d.Client.Get(ctx, client.ObjectKeyFromObject(j.sub), sub); err != nil {
		if !apierrors.IsNotFound(err) {
			d.Log.Error(err, "Reading an event subscription", "subscription", client.ObjectKeyFromObject(j.sub))
		}
		return j, false
	}
	if sub.UID != j.sub.UID || sub.Spec.Paused || !sub.DeletionTimestamp.IsZero() || len(Covered(sub, []tenant.Organization{j.org})) == 0 {
		return j, false
	}
	// Here, on the pair's worker, not on the scheduling loop: a brought key may have to be read
	// from the API server (brought_keys.go). A key that cannot be used is the controller's to
	// report; the pair waits for its next turn.
	keys, err := d.signingKeys(ctx, sub)
	if err != nil {
		return j, false
	}
	j.sub, j.keys = sub, keys
	return j, true
}
