package ha

import (
	"context"
	"flag"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/types"
)

// haFull writes the issues' full loads through the kill -9 (10,000 users; 5,000 with a webhook
// subscribed); make test writes fewer to stay quick on two shared cores:
// go test ./test/ha -run HighAvailability -ha-full -v.
var haFull = flag.Bool("ha-full", false, "write 10,000 users (5,000 with a webhook) under the kill -9 instead of the quicker defaults")

// failoverBound is the longest a failover may take after kill -9 of the leader: a lease duration
// for the lease to expire, then generous room for a retry period and a loaded API server.
const failoverBound = leaseDuration + 20*time.Second

// leaderControllers are the controllers that must run on the leader only; tenant-registry runs
// on every replica (each data plane keeps its own registry).
var leaderControllers = []string{"enterpriseidentity", "scimintegration", "organizationclaim"}

func TestHighAvailabilityOnPostgres(t *testing.T) {
	c := newCluster(t, 3)
	ctx := t.Context()

	// Controllers run only on the elected leader.
	leader := c.waitLeader(t, 2*time.Minute)
	c.createOrganization(t, "alpha")
	c.waitOrganizationReady(t, "alpha", 2*time.Minute)
	c.checkControllersOnlyOn(t, leader)
	token := c.token(t, "alpha")
	c.waitServed(t, "alpha", token)
	holder := c.leaseHolder(t)
	t.Logf("%s leads (lease holder %s); the controllers ran there only", c.replicas[leader].name, holder)

	// kill -9 of the leader: another replica takes the lease within the lease duration, and an
	// organization created after the kill becomes Ready.
	c.replicas[leader].kill(t)
	killed := time.Now()
	c.createOrganization(t, "bravo")
	next := c.waitLeader(t, failoverBound)
	failover := time.Since(killed)
	c.waitOrganizationReady(t, "bravo", failoverBound+time.Minute)
	t.Logf("FIGURE failover after kill -9 of the leader: %s leads after %s; an organization created at the kill was Ready after %s",
		c.replicas[next].name, failover.Round(100*time.Millisecond), time.Since(killed).Round(100*time.Millisecond))
	if now := c.leaseHolder(t); now == holder {
		t.Errorf("the lease is still held by %s", holder)
	}
	c.checkControllersOnlyOn(t, next)
	c.replicas[leader].start(t)
	c.replicas[leader].waitReady(t)

	// kill -9 of one replica (the leader, the hardest case) during a write load over all three.
	n, workers := 3000, 12
	if *haFull {
		n = 10000
	}
	c.writeThroughKill(ctx, t, token, "kill", n, workers, nil)

	// SIGTERM: unready, the in-flight request finished, queued audit events recorded, exit 0.
	drained := (c.waitLeader(t, failoverBound) + 1) % len(c.replicas)
	c.checkSIGTERMDrains(t, c.replicas[drained], "alpha", token)
	c.replicas[drained].start(t)
	c.replicas[drained].waitReady(t)

	// A rolling restart under load fails no request, and the controllers keep working after it.
	c.rollingRestart(ctx, t, token)
	c.createOrganization(t, "charlie")
	c.waitOrganizationReady(t, "charlie", failoverBound+time.Minute)
	c.checkControllersOnlyOn(t, c.waitLeader(t, failoverBound))
}

// writeThroughKill creates n users named by prefix from workers clients spread over the replicas,
// kills the leader with SIGKILL a third of the way, restarts it two thirds of the way, and checks
// that every acknowledged user is stored and no userName twice. kill, when not nil, kills the
// leader at a moment of its choosing. It returns the load's outcome, when the leader was killed
// and when the last write was answered.
func (c *cluster) writeThroughKill(ctx context.Context, t *testing.T, token, prefix string, n, workers int,
	kill func(leader *replica)) (w *writes, killed, ended time.Time) {
	t.Helper()
	client := newSCIMClient(c, "alpha", token, workers)
	victim := c.replicas[c.waitLeader(t, failoverBound)]
	var done atomic.Int64
	result := make(chan *writes, 1)
	began := time.Now()
	go func() { result <- client.createUsers(ctx, prefix, n, workers, &done) }()
	waitFor(10*time.Minute, func() bool { return done.Load() >= int64(n/3) })
	if kill == nil {
		kill = func(r *replica) { r.kill(t) }
	}
	kill(victim)
	killed = time.Now()
	t.Logf("killed %s (the leader) with SIGKILL after %d of %d writes", victim.name, done.Load(), n)
	waitFor(10*time.Minute, func() bool { return done.Load() >= int64(2*n/3) })
	victim.start(t)
	victim.waitReady(t)
	w = <-result
	ended = time.Now()
	elapsed := ended.Sub(began)
	stored := storedUsers(t, c.replicas[(c.waitLeader(t, failoverBound)+1)%len(c.replicas)], "alpha", token)
	count := checkStored(t, w, stored, prefix)
	t.Logf("FIGURE write load through kill -9: %d writes in %s by %d clients; %d acknowledged (201), %d committed with the answer lost "+
		"(409 on the retry), %d failed; %d attempts got no answer and were retried; %d users stored, none twice",
		n, elapsed.Round(100*time.Millisecond), workers, len(w.acknowledged), len(w.unacknowledged), len(w.failed),
		client.connErrors.Load(), count)
	for _, f := range w.failed[:min(10, len(w.failed))] {
		t.Errorf("failed request: %s", f)
	}
	if count != n {
		t.Errorf("%d users of %d are stored", count, n)
	}
	return w, killed, ended
}

// rollingRestart restarts the replicas one at a time (SIGTERM, start, ready) under a load of
// creates and reads, and fails the test on any failed request or lost answer.
func (c *cluster) rollingRestart(ctx context.Context, t *testing.T, token string) {
	t.Helper()
	const workers = 6
	client := newSCIMClient(c, "alpha", token, workers)
	stop := make(chan struct{})
	result := make(chan *writes, 1)
	began := time.Now()
	go func() { result <- client.churn(ctx, "roll", workers, stop) }()
	time.Sleep(2 * time.Second)
	for _, r := range c.replicas {
		led := r.leads(t)
		sent := time.Now()
		if err := r.term(t, time.Minute); err != nil {
			t.Errorf("%s did not stop cleanly on SIGTERM: %v", r.name, err)
		}
		if led {
			next := c.waitLeader(t, failoverBound)
			t.Logf("FIGURE leader %s stopped by SIGTERM (lease released): %s leads %s after the signal",
				r.name, c.replicas[next].name, time.Since(sent).Round(100*time.Millisecond))
		}
		r.start(t)
		r.waitReady(t)
		time.Sleep(time.Second)
	}
	close(stop)
	w := <-result
	stored := storedUsers(t, c.replicas[0], "alpha", token)
	count := checkStored(t, w, stored, "roll")
	t.Logf("FIGURE rolling restart: %d requests in %s by %d clients, %d users created; %d failed, %d answers lost; "+
		"%d attempts got no answer and were retried",
		w.requests.Load(), time.Since(began).Round(100*time.Millisecond), workers, count, len(w.failed), len(w.unacknowledged),
		client.connErrors.Load())
	for _, f := range w.failed[:min(10, len(w.failed))] {
		t.Errorf("failed request: %s", f)
	}
	if len(w.unacknowledged) > 0 {
		t.Errorf("%d creates lost their answer during the rolling restart: %v", len(w.unacknowledged), w.unacknowledged[:min(5, len(w.unacknowledged))])
	}
}

// waitLeader waits until exactly one running replica leads and returns it.
func (c *cluster) waitLeader(t *testing.T, timeout time.Duration) int {
	t.Helper()
	leader := -1
	if _, ok := waitFor(timeout, func() bool {
		leader = -1
		for i, r := range c.replicas {
			if r.leads(t) {
				if leader >= 0 {
					return false
				}
				leader = i
			}
		}
		return leader >= 0
	}); !ok {
		t.Fatalf("no single leader among the replicas within %s", timeout)
	}
	return leader
}

// checkControllersOnlyOn checks that the leader-only controllers reconciled on the leader and
// on no other running replica, and that every replica's data plane registry did.
func (c *cluster) checkControllersOnlyOn(t *testing.T, leader int) {
	t.Helper()
	for i, r := range c.replicas {
		if !r.running() {
			continue
		}
		for _, name := range leaderControllers {
			v, _ := r.metric(t, "controller_runtime_reconcile_total", `controller="`+name+`"`)
			if i == leader && v == 0 {
				t.Errorf("the leader %s never reconciled %s", r.name, name)
			}
			if i != leader && v != 0 {
				t.Errorf("%s, not the leader, reconciled %s %v times", r.name, name, v)
			}
		}
		if v, _ := r.metric(t, "controller_runtime_reconcile_total", `controller="tenant-registry"`); v == 0 {
			t.Errorf("the data plane registry of %s never reconciled", r.name)
		}
	}
}

// leaseHolder is the leader election Lease's current holder.
func (c *cluster) leaseHolder(t *testing.T) string {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := c.k8s.Get(t.Context(), types.NamespacedName{Namespace: leaseNamespace, Name: leaseName}, lease); err != nil {
		t.Fatal(err)
	}
	if lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}
