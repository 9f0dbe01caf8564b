package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/events"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// The webhook delivery scenario (issue 12): the SCIM handler and the operator's webhook
// deliverer (internal/events, as the leader runs it, with its default interval and workers) on
// one store, an EventSubscription of the organization, and a receiver on loopback that verifies
// every request with the Standard Webhooks library. Every write's event is matched to the write:
// the lag is the receiver's receive time minus the time the client got the write's 201/200.
const (
	deliveryNamespace = "bench"
	deliverySub       = "bench-app"
	// poolPerClient is how many users each client creates before delivery starts, to PATCH later;
	// a user is PATCHed by one client only, so its writes and its events pair up in order.
	poolPerClient = 200
	// pacedWrites is the steady write rate of the second phase, within what one organization's
	// delivery keeps up with.
	pacedWrites = 50
)

// deliveryScenario runs the two phases and prints delivery throughput and lag percentiles.
func deliveryScenario(ctx context.Context, st store.Store) {
	base, orgs, stop := serveDelivery(st)
	defer stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	c := &client{http: hc, base: base}

	// Each client's users, created before the subscription's delivery starts.
	pools := make([][]poolUser, *concurrency)
	var wg sync.WaitGroup
	for w := range pools {
		wg.Go(func() {
			for i := range poolPerClient {
				name := fmt.Sprintf("pool-%d-%d@bench.example", w, i)
				var created struct{ ID string }
				check(c.send("POST", "/Users", userBody(name), http.StatusCreated, &created))
				pools[w] = append(pools[w], poolUser{id: created.ID, name: name, active: true})
			}
		})
	}
	wg.Wait()

	rc := newBenchReceiver()
	recv, stopRecv := listen(rc)
	defer stopRecv()
	sub, key := subscription(recv + "/webhooks")
	rc.setKey(key)
	scheme := k8sruntime.NewScheme()
	check(clientgoscheme.AddToScheme(scheme))
	check(v1alpha1.AddToScheme(scheme))
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(sub, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: deliveryNamespace, Name: v1alpha1.SigningKeySecretName(deliverySub)},
		Data:       map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(key)}}).Build()
	// Delivery starts at the organization's newest event, as for a subscription created now.
	_, err := st.Delivery(ctx, string(sub.UID), org, time.Time{})
	check(err)
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d := &events.Deliverer{Store: st, Client: k8s, APIReader: k8s, Registry: orgs, HTTP: &http.Client{Timeout: 10 * time.Second}, Log: logr.Discard()}
	go func() { _ = d.Start(dctx) }()

	fmt.Printf("# webhook delivery on loopback: %s store, one organization, one subscription; %d clients; %d CPUs, %s\n",
		*storeKind, *concurrency, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	fmt.Printf("# lag: the receiver's receive time - the time the client got the write's 201/200\n")

	// Phase 1: the 70/20/10 mix from every client as fast as answers come.
	acks := newAcks()
	var created atomic.Int64
	began := time.Now()
	deadline := began.Add(*duration)
	var reads, writes atomic.Int64
	for w := range *concurrency {
		wg.Go(func() {
			pool := pools[w]
			for i := 0; time.Now().Before(deadline); i++ {
				switch p := mathrand.IntN(10); {
				case p < 7:
					u := pool[mathrand.IntN(len(pool))]
					check(c.get(base + "/Users/" + u.id))
					reads.Add(1)
				case p < 9:
					u := &pool[i%len(pool)]
					u.active = !u.active
					check(c.send("PATCH", "/Users/"+u.id, patchActive(u.active), http.StatusOK, nil))
					acks.add(u.name, time.Now())
					writes.Add(1)
				default:
					name := fmt.Sprintf("mixed-%d@bench.example", created.Add(1))
					check(c.send("POST", "/Users", userBody(name), http.StatusCreated, nil))
					acks.add(name, time.Now())
					writes.Add(1)
				}
			}
		})
	}
	wg.Wait()
	loadEnd := time.Now()
	fmt.Printf("# phase 1: mix 70%% read / 20%% PATCH active / 10%% create for %s: %d reads, %d writes (%.0f writes/s acknowledged)\n",
		*duration, reads.Load(), writes.Load(), float64(writes.Load())/loadEnd.Sub(began).Seconds())
	drained := rc.waitFor(int(writes.Load()), loadEnd, 15*time.Minute)
	reportDelivery("phase 1, mix", rc, acks, began, loadEnd, drained)

	// Phase 2: writes at a steady rate, as an identity provider paces itself.
	rc.reset()
	acks = newAcks()
	began = time.Now()
	tick := time.NewTicker(time.Second / pacedWrites)
	n := 0
	var mu sync.Mutex
	for ; time.Since(began) < *duration; n++ {
		<-tick.C
		i := n
		wg.Go(func() {
			mu.Lock() // one PATCH of a user at a time, so its events pair with its writes in order
			defer mu.Unlock()
			if i%2 == 0 {
				u := &pools[0][(i/2)%len(pools[0])]
				u.active = !u.active
				check(c.send("PATCH", "/Users/"+u.id, patchActive(u.active), http.StatusOK, nil))
				acks.add(u.name, time.Now())
				return
			}
			name := fmt.Sprintf("paced-%d@bench.example", i)
			check(c.send("POST", "/Users", userBody(name), http.StatusCreated, nil))
			acks.add(name, time.Now())
		})
	}
	wg.Wait()
	tick.Stop()
	loadEnd = time.Now()
	fmt.Printf("# phase 2: %d writes at %d/s (half PATCH active, half create)\n", n, pacedWrites)
	drained = rc.waitFor(n, loadEnd, 5*time.Minute)
	reportDelivery(fmt.Sprintf("phase 2, %d writes/s", pacedWrites), rc, acks, began, loadEnd, drained)
	if bad := rc.refusedCount(); bad > 0 {
		fmt.Printf("# %d requests failed signature verification\n", bad)
	}
}

type poolUser struct {
	id, name string
	active   bool
}

// reportDelivery prints the phase's delivery throughput and lag percentiles.
func reportDelivery(phase string, rc *benchReceiver, acks *acks, began, loadEnd time.Time, drained bool) {
	got := rc.snapshot()
	lags := acks.match(got)
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	if len(got) == 0 || len(lags) == 0 {
		fmt.Printf("%s: nothing delivered\n", phase)
		return
	}
	last := got[len(got)-1].at
	fmt.Printf("%-44s %10s %10s %10s %10s %10s\n", phase, "events", "events/s", "lag p50", "lag p99", "lag max")
	fmt.Printf("%-44s %10d %10.0f %10s %10s %10s\n", "", len(got), float64(len(got))/last.Sub(began).Seconds(),
		lags[len(lags)/2].Round(time.Millisecond), lags[len(lags)*99/100].Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond))
	status := "drained"
	if !drained {
		status = "NOT drained"
	}
	fmt.Printf("# %s: %d events matched to writes; %s %s after the last write; %d redelivered\n",
		phase, len(lags), status, last.Sub(loadEnd).Round(100*time.Millisecond), rc.redelivered.Load())
}

// acks keeps, per userName, the times its writes were acknowledged, in order.
type acks struct {
	mu  sync.Mutex
	per map[string][]time.Time
}

func newAcks() *acks { return &acks{per: map[string][]time.Time{}} }

func (a *acks) add(name string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := strings.ToLower(name)
	a.per[key] = append(a.per[key], at)
}

// match pairs each user's events, in arrival order, with its writes in order, and returns the lags.
func (a *acks) match(got []delivered) []time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	next := map[string]int{}
	lags := make([]time.Duration, 0, len(got))
	for _, g := range got {
		times := a.per[g.userName]
		i := next[g.userName]
		if i >= len(times) {
			continue // an event of no write of this phase
		}
		next[g.userName] = i + 1
		lags = append(lags, g.at.Sub(times[i]))
	}
	return lags
}

// benchReceiver verifies and acknowledges every webhook and keeps each event's first arrival.
type benchReceiver struct {
	mu          sync.Mutex
	verifier    *standardwebhooks.Webhook
	seen        map[string]bool
	got         []delivered
	refused     int
	redelivered atomic.Int64
}

type delivered struct {
	userName string
	at       time.Time
}

func newBenchReceiver() *benchReceiver { return &benchReceiver{seen: map[string]bool{}} }

func (rc *benchReceiver) setKey(key string) {
	v, err := standardwebhooks.NewWebhook(key)
	check(err)
	rc.mu.Lock()
	rc.verifier = v
	rc.mu.Unlock()
}

func (rc *benchReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	var ev struct {
		ID   string
		Data struct{ Member struct{ UserName string } }
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err != nil || rc.verifier == nil || rc.verifier.Verify(body, r.Header) != nil || json.Unmarshal(body, &ev) != nil {
		rc.refused++
		http.Error(w, "invalid", http.StatusUnauthorized)
		return
	}
	if rc.seen[ev.ID] {
		rc.redelivered.Add(1)
	} else {
		rc.seen[ev.ID] = true
		rc.got = append(rc.got, delivered{userName: strings.ToLower(ev.Data.Member.UserName), at: at})
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *benchReceiver) snapshot() []delivered {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivered(nil), rc.got...)
}

func (rc *benchReceiver) reset() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.got = nil
	rc.redelivered.Store(0)
}

func (rc *benchReceiver) refusedCount() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.refused
}

// waitFor waits until n events arrived, up to timeout after since; false when they did not.
func (rc *benchReceiver) waitFor(n int, since time.Time, timeout time.Duration) bool {
	for time.Since(since) < timeout {
		rc.mu.Lock()
		got := len(rc.got)
		rc.mu.Unlock()
		if got >= n {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

// subscription is the organization's EventSubscription to url, and its generated signing key.
func subscription(url string) (*v1alpha1.EventSubscription, string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return &v1alpha1.EventSubscription{
		ObjectMeta: metav1.ObjectMeta{Namespace: deliveryNamespace, Name: deliverySub, UID: types.UID("bench-subscription")},
		Spec:       v1alpha1.EventSubscriptionSpec{URL: url},
	}, "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// serveDelivery runs the SCIM handler for the organization, served from the subscription's
// namespace under the CRD's default provisioning policy, and returns its registry.
func serveDelivery(st store.Store) (string, *tenant.Registry, func()) {
	reg := tenant.NewRegistry()
	var c tenant.Credential
	b, _ := hex.DecodeString(token.Hash(tok))
	copy(c.SHA256[:], b)
	c.Current = true
	reg.Set(&tenant.Organization{Name: org, Enabled: true, Integration: types.NamespacedName{Namespace: deliveryNamespace, Name: org},
		Credentials: []tenant.Credential{c}, Policy: provisioning.DefaultPolicy})
	reg.MarkListening(true)
	go func() {
		for range reg.Uses() {
		}
	}()
	srv := &scim.Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	address, stop := listen(srv.Handler())
	return address + "/scim/v2/" + org, reg, func() { stop(); srv.Close() }
}
