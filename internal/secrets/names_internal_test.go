package secrets

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// A controller that runs only on the leader builds its source on every replica but starts it
// only there. Subscribed from the start, its channel filled on the other replicas after 1,024
// Secret events, and the watch stopped for every subscriber, the data plane's among them.
func TestASourceNobodyStartedNeverStallsTheWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	names := &Names{}
	byName := func(_ context.Context, namespace, name string) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: namespace, Name: name}}}
	}
	_ = names.Source(byName) // the leader's controller, never started on this replica
	started := names.Source(byName)
	queue := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
	defer queue.ShutDown()
	if err := started.Start(ctx, queue); err != nil {
		t.Fatal(err)
	}
	const events = 3000
	done := make(chan struct{})
	go func() {
		defer close(done)
		f := &forwarder{ctx: ctx, names: names}
		for i := range events {
			_ = f.Add(&metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprint("s-", i)}})
		}
	}()
	select {
	case <-done:
	case <-time.After(time.Minute): // a bound on a deadlock, not a timing
		t.Fatal("the watch stalled on a subscriber nobody drains")
	}
	seen := map[string]bool{}
	for len(seen) < events {
		r, _ := queue.Get()
		seen[r.Name] = true
		queue.Done(r)
	}

	// A stopped controller leaves: its channel is no longer written to.
	cancel()
	if n := waitFor(func() int { names.mu.Lock(); defer names.mu.Unlock(); return len(names.subs) }, 0); n != 0 {
		t.Fatalf("%d subscribers after their controllers stopped", n)
	}
}

// waitFor polls f until it returns want, for at most a few seconds, and returns its last value.
func waitFor(f func() int, want int) int {
	var got int
	for range 100 {
		if got = f(); got == want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return got
}
