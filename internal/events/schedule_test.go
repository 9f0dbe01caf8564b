package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// inFlight is a slow receiver on loopback that counts the requests it serves at once.
type inFlight struct {
	mu        sync.Mutex
	now, most int
	received  int
	delay     time.Duration
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	f.mu.Lock()
	f.now++
	f.most = max(f.most, f.now)
	f.mu.Unlock()
	time.Sleep(f.delay)
	f.mu.Lock()
	f.now--
	f.received++
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (f *inFlight) counts() (most, received int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.most, f.received
}

// A namespace with many subscriptions to a slow receiver holds at most its share of the workers
// (here two of eight), and another namespace's event goes out while the slow namespace's backlog is
// still being sent: workers are shared between namespaces, and no pair waits for a pass of all.
func TestANamespacesManySlowSubscriptionsHoldOnlyItsShareOfTheWorkers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := openStore(t)
	key, _ := NewSigningKey()
	slow := &inFlight{delay: 100 * time.Millisecond}
	slowSrv := httptest.NewServer(slow)
	defer slowSrv.Close()
	quick := &inFlight{}
	quickSrv := httptest.NewServer(quick)
	defer quickSrv.Close()

	d := &Deliverer{Store: st, HTTP: slowSrv.Client()}
	const subscriptions, events = 8, 4
	var jobs []job
	for i := range subscriptions {
		jobs = append(jobs, pairOf("crowd", fmt.Sprintf("app-%d", i), slowSrv.URL, key))
	}
	jobs = append(jobs, pairOf("quiet", "app", quickSrv.URL, key))
	for _, j := range jobs {
		if _, err := d.deliver(ctx, j); err != nil { // starts each subscription at its newest event: none yet
			t.Fatal(err)
		}
	}
	for i := range events {
		createUser(t, st, "crowd", fmt.Sprint("u", i), []byte(`{}`))
	}
	createUser(t, st, "quiet", "u0", []byte(`{}`))

	var slowWhenQuickArrived int
	quickArrived := make(chan struct{})
	go func() {
		for {
			if _, got := quick.counts(); got > 0 {
				_, slowWhenQuickArrived = slow.counts()
				close(quickArrived)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	s := &schedule{workers: 8, perNamespace: 2, interval: 50 * time.Millisecond}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.run(ctx, func() []job { return jobs }, func(j job) bool { return d.deliverLogged(ctx, j) })
	}()
	deadline := time.After(30 * time.Second)
	for {
		if _, got := slow.counts(); got == subscriptions*events {
			break
		}
		select {
		case <-deadline:
			_, got := slow.counts()
			t.Fatalf("the slow receiver got %d of %d events", got, subscriptions*events)
		case <-time.After(20 * time.Millisecond):
		}
	}
	<-quickArrived
	cancel()
	<-stopped
	most, _ := slow.counts()
	if most > 2 {
		t.Fatalf("the crowded namespace had %d sends at once, want at most its share of 2", most)
	}
	if slowWhenQuickArrived >= subscriptions*events/2 {
		t.Fatalf("the quiet namespace's event arrived after %d of the crowded namespace's %d", slowWhenQuickArrived, subscriptions*events)
	}
	t.Logf("the quiet namespace's event arrived after %d of the crowded namespace's %d; at most %d of those at once",
		slowWhenQuickArrived, subscriptions*events, most)
}

// Pairs that always have more to send do not keep their namespace's other pairs out: a
// namespace's turn goes to its pair that waited longest.
func TestPairsAlwaysFullDoNotStarveTheirNamespacesOthers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var jobs []job
	for _, name := range []string{"busy-1", "busy-2", "quiet"} {
		sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: name, UID: types.UID(name)}}
		jobs = append(jobs, job{sub: sub, org: tenant.Organization{Name: "a"}})
	}
	var mu sync.Mutex
	runs := map[string]int{}
	s := &schedule{workers: 8, perNamespace: 2, interval: 10 * time.Millisecond}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s.run(ctx, func() []job { return jobs }, func(j job) bool {
			time.Sleep(2 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			runs[j.sub.Name]++
			return j.sub.Name != "quiet" // the busy pairs always have more
		})
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	if runs["quiet"] < 3 {
		t.Fatalf("runs %v: the quiet pair waited behind the busy ones", runs)
	}
	t.Logf("runs in 300 ms: %v", runs)
}

// countingDeliveries counts the delivery states a store read.
type countingDeliveries struct {
	store.Store
	mu    sync.Mutex
	reads int
}

func (c *countingDeliveries) Delivery(ctx context.Context, subscription, org string, from time.Time) (*store.Delivery, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.Delivery(ctx, subscription, org, from)
}

func (c *countingDeliveries) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// A pair with nothing new is passed over without reading the store, and runs again as soon as
// its organization has a new event.
func TestAnIdlePairCostsNoReads(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sqlite := openStore(t)
	st := &countingDeliveries{Store: sqlite}
	rc, d, j := answeringPair(t, st, http.StatusOK)
	createUser(t, sqlite, "acme", "u0", []byte(`{}`))
	s := &schedule{workers: 8, perNamespace: 2, interval: 20 * time.Millisecond}
	stopped := make(chan struct{})
	defer func() { cancel(); <-stopped }() // before the store closes
	go func() {
		defer close(stopped)
		s.run(ctx, func() []job {
			positions, err := sqlite.DeliveryPositions(ctx)
			if err != nil && ctx.Err() == nil {
				t.Error(err)
			}
			d.idle.set(positions)
			return []job{j}
		}, func(j job) bool { return d.deliverLogged(ctx, j) })
	}()

	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("waited 10 s for %s", what)
			}
		}
	}
	time.Sleep(200 * time.Millisecond) // ten intervals: the first runs, then idle
	before := st.count()
	time.Sleep(400 * time.Millisecond) // twenty more intervals
	if idle := st.count() - before; idle > 1 {
		t.Fatalf("the idle pair read its state %d times in 20 intervals", idle)
	}
	createUser(t, sqlite, "acme", "u1", []byte(`{}`))
	waitFor("the new event", func() bool { return len(rc.sequences()) == 1 })
	if got := rc.sequences(); got[0] != 2 {
		t.Fatalf("the receiver got %v, want the new event 2 (the subscription started after event 1)", got)
	}
}

// What the scheduler spends to start and finish one run, beside a tenant's many pairs: flat in
// their number (pairs wait in heaps), where scanning and sorting them all on every finished run
// cost the square of their number each interval.
func BenchmarkSchedulingBesideManyPairs(b *testing.B) {
	for _, n := range []int{1_000, 20_000} {
		b.Run(fmt.Sprintf("pairs=%d", n), func(b *testing.B) {
			s := &schedule{workers: 8, perNamespace: 2, interval: time.Hour}
			s.init()
			jobs := []job{pairOf("other", "app", "http://127.0.0.1:1", "")}
			for i := range n {
				jobs = append(jobs, pairOf("busy", fmt.Sprintf("sub-%d", i), "http://127.0.0.1:1", ""))
			}
			s.list(jobs)
			done := make(chan finished, s.workers)
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				s.start(ctx, done, func(job) bool { return true }) // always more to send: at once again
				s.finish(<-done)
			}
			b.StopTimer()
			for len(s.running) > 0 {
				s.finish(<-done)
			}
		})
	}
}

// concurrentEvents counts the Events calls that reach the store at once.
type concurrentEvents struct {
	store.Store
	mu        sync.Mutex
	now, most int
}

func (c *concurrentEvents) Events(ctx context.Context, org string, after int64, limit int) ([]store.EventRecord, error) {
	c.mu.Lock()
	c.now++
	c.most = max(c.most, c.now)
	c.mu.Unlock()
	time.Sleep(5 * time.Millisecond) // long enough for the others to pile up
	defer func() { c.mu.Lock(); c.now--; c.mu.Unlock() }()
	return c.Store.Events(ctx, org, after, limit)
}

// However many runs are due together, the deliverer's store calls take turns: they hold at most
// maxStoreCalls of the store's connections, and SCIM writes keep the rest.
func TestDeliveriesHoldFewOfTheStoresConnections(t *testing.T) {
	counted := &concurrentEvents{Store: openStore(t)}
	d := &Deliverer{Store: counted}
	var wg sync.WaitGroup
	for range defaultWorkers {
		wg.Go(func() {
			if _, err := d.store().Events(context.Background(), "acme", 0, 10); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if counted.most > maxStoreCalls || counted.most < 2 {
		t.Fatalf("%d store calls at once, want at most %d (and some at once)", counted.most, maxStoreCalls)
	}
}

// Pairs forgotten (a listing that failed once, a subscription whose key could not be read) leave
// nothing behind in the schedule: listed again, each waits once.
func TestForgottenPairsLeaveNothingBehind(t *testing.T) {
	s := &schedule{workers: 1, perNamespace: 1, interval: time.Hour}
	s.init()
	var jobs []job
	for i := range 100 {
		jobs = append(jobs, pairOf("busy", fmt.Sprintf("sub-%d", i), "http://127.0.0.1:1", ""))
	}
	for range 10 {
		s.list(jobs)
		s.list(nil) // the listing failed: every pair forgotten
	}
	s.list(jobs)
	waiting := len(s.due)
	for _, h := range s.ready {
		waiting += len(h)
	}
	if waiting != len(jobs) || len(s.ticket) != len(jobs) || len(s.jobs) != len(jobs) {
		t.Fatalf("%d entries and %d tickets for %d pairs", waiting, len(s.ticket), len(jobs))
	}
}
