package events

import (
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
	running               map[pairKey]bool
	inNamespace           map[string]int
	due                   map[pairKey]time.Time
	// started is when each pair last started: a namespace's turn goes to its pair that waited
	// longest, so pairs that always have more to send do not keep its other pairs out.
	started map[pairKey]time.Time
	// turn rotates which namespace is served first.
	turn int
}

// run schedules the pairs jobs lists (read again every interval) until ctx ends; run(j) delivers
// one pair and reports whether it left events waiting.
func (s *schedule) run(ctx context.Context, jobs func() []job, deliver func(job) bool) {
	s.running, s.inNamespace, s.due, s.started = map[pairKey]bool{}, map[string]int{}, map[pairKey]time.Time{}, map[pairKey]time.Time{}
	done := make(chan finished, s.workers)
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	current := jobs()
	for {
		s.start(ctx, current, done, deliver)
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
			current = jobs()
			s.forgetGone(current)
		}
	}
}

// start starts the due pairs that fit: namespaces in turn, one pair each round, until the
// workers are busy or no namespace has a startable pair.
func (s *schedule) start(ctx context.Context, jobs []job, done chan<- finished, deliver func(job) bool) {
	if len(s.running) >= s.workers {
		return
	}
	now := time.Now()
	byNamespace := map[string][]job{}
	for _, j := range jobs {
		k := j.pairKey()
		if s.running[k] || now.Before(s.due[k]) {
			continue
		}
		byNamespace[j.sub.Namespace] = append(byNamespace[j.sub.Namespace], j)
	}
	namespaces := make([]string, 0, len(byNamespace))
	for ns, waiting := range byNamespace {
		namespaces = append(namespaces, ns)
		sort.SliceStable(waiting, func(a, b int) bool {
			return s.started[waiting[a].pairKey()].Before(s.started[waiting[b].pairKey()])
		})
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
			waiting := byNamespace[ns]
			if len(waiting) == 0 || s.inNamespace[ns] >= s.perNamespace {
				continue
			}
			j := waiting[0]
			byNamespace[ns] = waiting[1:]
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

// finish frees a pair's worker and sets when it runs next.
func (s *schedule) finish(f finished) {
	delete(s.running, f.key)
	if s.inNamespace[f.namespace]--; s.inNamespace[f.namespace] <= 0 {
		delete(s.inNamespace, f.namespace)
	}
	if f.full {
		delete(s.due, f.key) // more are waiting: as soon as a worker is free
		return
	}
	s.due[f.key] = time.Now().Add(s.interval)
}

// forgetGone drops the due and start times of pairs no longer listed, so the schedule stays the size of
// the subscriptions.
func (s *schedule) forgetGone(jobs []job) {
	listed := make(map[pairKey]bool, len(jobs))
	for _, j := range jobs {
		listed[j.pairKey()] = true
	}
	for k := range s.due {
		if !listed[k] {
			delete(s.due, k)
		}
	}
	for k := range s.started {
		if !listed[k] {
			delete(s.started, k)
		}
	}
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
	if sub.Generation != j.sub.Generation {
		keys, err := d.signingKeys(ctx, sub)
		if err != nil {
			return j, false
		}
		j.keys = keys
	}
	j.sub = sub
	return j, true
}
