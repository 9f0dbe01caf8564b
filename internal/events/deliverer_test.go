package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// flaky is a receiver on loopback that answers with the status its test sets, and keeps the
// events it acknowledged.
type flaky struct {
	mu         sync.Mutex
	key        string
	status     int
	retryAfter string
	got        []Event
	attempts   int
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	wh, _ := standardwebhooks.NewWebhook(f.key)
	// The deliverer's clock is the test's: the timestamp check is the end-to-end test's.
	if err := wh.VerifyIgnoringTimestamp(body, r.Header); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if f.status >= 300 {
		if f.retryAfter != "" {
			w.Header().Set("Retry-After", f.retryAfter)
		}
		w.WriteHeader(f.status)
		return
	}
	var e Event
	_ = json.Unmarshal(body, &e)
	f.got = append(f.got, e)
	w.WriteHeader(http.StatusOK)
}

func (f *flaky) set(status int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.retryAfter = status, retryAfter
}

func (f *flaky) sequences() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]int64, 0, len(f.got))
	for _, e := range f.got {
		out = append(out, e.Sequence)
	}
	return out
}

// A receiver that fails is retried with growing waits (at least its Retry-After), in order; once
// retryFor has passed the event is dead-lettered and the next delivered; replay sends it again.
// The clock is the test's, so nothing sleeps.
func TestDeliveryRetriesDeadLettersAndReplays(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	key, _ := NewSigningKey()
	rc := &flaky{key: key, status: http.StatusServiceUnavailable, retryAfter: "120"}
	srv := httptest.NewServer(rc)
	defer srv.Close()

	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	d := &Deliverer{Store: st, HTTP: srv.Client(), Now: func() time.Time { return now }}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr", UID: types.UID("sub-uid")},
		Spec: v1alpha1.EventSubscriptionSpec{URL: srv.URL, Types: []string{"member.*"}, RetryFor: &metav1.Duration{Duration: time.Hour}}}
	j := job{sub: sub, org: tenant.Organization{Name: "acme", Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}}, keys: []string{key}}
	if _, err := d.deliver(ctx, j); err != nil { // starts the subscription at the newest event: none yet
		t.Fatal(err)
	}
	p := provisioning.DefaultPolicy
	for i := range 3 {
		r := &store.Resource{Org: "acme", Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := st.Create(ctx, r, nil, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	}
	// A group event in between, which the subscription does not want.
	g := &store.Resource{Org: "acme", Kind: store.KindGroup, ID: "g1", Name: "Team", Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	if err := st.Create(ctx, g, nil, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}

	step := func(advance time.Duration) {
		t.Helper()
		now = now.Add(advance)
		if _, err := d.deliver(ctx, j); err != nil {
			t.Fatal(err)
		}
	}
	step(0)
	state, _ := st.Delivery(ctx, "sub-uid", "acme", time.Time{})
	if state.Attempts != 1 || state.NextAttempt.Sub(now) < 120*time.Second || state.LastError != "HTTP 503" {
		t.Fatalf("after a 503 with Retry-After 120: %+v", state)
	}
	attempts := rc.attempts
	step(60 * time.Second) // before Retry-After: nothing is sent
	if rc.attempts != attempts {
		t.Fatal("a retry was sent before the receiver's Retry-After")
	}
	rc.set(http.StatusInternalServerError, "")
	step(2 * time.Minute)
	step(time.Hour) // retryFor has passed since the first failure: event 1 is dead-lettered, event 2 is tried
	letters, _ := st.DeadLetters(ctx, "sub-uid", "acme", 10)
	if len(letters) != 1 || letters[0].Seq != 1 || letters[0].Type != "member.provisioned" {
		t.Fatalf("dead letters: %+v", letters)
	}
	rc.set(http.StatusOK, "")
	step(time.Hour)
	if got := rc.sequences(); fmt.Sprint(got) != "[2 3]" {
		t.Fatalf("after recovery the receiver got %v, want [2 3] (the group event is not wanted)", got)
	}
	state, _ = st.Delivery(ctx, "sub-uid", "acme", time.Time{})
	if state.DeliveredSeq != 4 || state.Attempts != 0 || state.DeadLettered != 1 {
		t.Fatalf("after recovery: %+v", state)
	}
	if n, err := st.Replay(ctx, "sub-uid", "acme"); err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	step(time.Second)
	if got := rc.sequences(); fmt.Sprint(got) != "[2 3 1 2 3]" {
		t.Fatalf("replay sends from the dead letter on: %v", got)
	}
	for _, b := range []int{1, 2, 5, 12, 20} {
		if w := Backoff(b); w <= 0 || w > maxBackoff {
			t.Fatalf("backoff %d is %s", b, w)
		}
	}
}

func TestWantsAndCovered(t *testing.T) {
	if !Wants(nil, "group.created") || !Wants([]string{"member.*"}, "member.suspended") || Wants([]string{"member.*"}, "membership.added") ||
		!Wants([]string{"membership.added"}, "membership.added") {
		t.Fatal("type selection")
	}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme"}}
	orgs := []tenant.Organization{{Name: "acme", Integration: types.NamespacedName{Namespace: "acme"}},
		{Name: "globex", Integration: types.NamespacedName{Namespace: "globex"}}}
	if got := Covered(sub, orgs); len(got) != 1 || got[0].Name != "acme" {
		t.Fatalf("a subscription covers only its namespace's organizations: %+v", got)
	}
	sub.Spec.Organizations = []string{"globex"}
	if got := Covered(sub, orgs); len(got) != 0 {
		t.Fatalf("naming another namespace's organization covers nothing: %+v", got)
	}
}

func TestMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatalf("a second manager in one process: %v", err)
	}
	m.observe(resultDelivered, time.Now())
}

// A failure right after events the subscription does not want is recorded (backoff, and in time a
// dead letter): the skipped events are passed first.
func TestFailureAfterSkippedEventsBacksOff(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	key, _ := NewSigningKey()
	rc := &flaky{key: key, status: http.StatusBadGateway}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	d := &Deliverer{Store: st, HTTP: srv.Client(), Now: func() time.Time { return now }}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr", UID: types.UID("sub-2")},
		Spec: v1alpha1.EventSubscriptionSpec{URL: srv.URL, Types: []string{"member.*"}}}
	j := job{sub: sub, org: tenant.Organization{Name: "acme", Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}}, keys: []string{key}}
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	p := provisioning.DefaultPolicy
	g := &store.Resource{Org: "acme", Kind: store.KindGroup, ID: "g1", Name: "Team", Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	u := &store.Resource{Org: "acme", Kind: store.KindUser, ID: "u1", Name: "ada", Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	for _, r := range []*store.Resource{g, u} {
		if err := st.Create(ctx, r, nil, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, "sub-2", "acme", time.Time{})
	if state.DeliveredSeq != 1 || state.Attempts != 1 || state.LastError != "HTTP 502" || !state.NextAttempt.After(now) {
		t.Fatalf("the failure after a skipped event is recorded: %+v", state)
	}
}

// A receiver that answers slowly gives its worker back after the pass's budget: another
// organization's event is delivered in the same pass, long before the slow receiver's batch
// would have been sent, and the slow one's next events wait for the next pass.
func TestASlowReceiverDoesNotHoldOtherOrganizationsDeliveries(t *testing.T) {
	ctx := context.Background()
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	defer func(b time.Duration) { jobTimeBudget = b }(jobTimeBudget)
	jobTimeBudget = 200 * time.Millisecond

	key, _ := NewSigningKey()
	fast := &flaky{key: key, status: http.StatusOK}
	slowSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(100 * time.Millisecond)
		fast.ServeHTTP(w, r)
	}))
	defer slowSrv.Close()
	fastSrv := httptest.NewServer(fast)
	defer fastSrv.Close()

	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	d := &Deliverer{Store: st, HTTP: fastSrv.Client(), Now: func() time.Time { return now }}
	jobFor := func(org, url string) job {
		sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: org, Name: "app", UID: types.UID("sub-" + org)},
			Spec: v1alpha1.EventSubscriptionSpec{URL: url}}
		return job{sub: sub, org: tenant.Organization{Name: org, Integration: types.NamespacedName{Namespace: org, Name: org}}, keys: []string{key}}
	}
	slow, quick := jobFor("slow", slowSrv.URL), jobFor("quick", fastSrv.URL)
	for _, j := range []job{slow, quick} {
		if _, err := d.deliver(ctx, j); err != nil { // starts each subscription at its newest event: none yet
			t.Fatal(err)
		}
	}
	p := provisioning.DefaultPolicy
	for i := range 30 {
		r := &store.Resource{Org: "slow", Kind: store.KindUser, ID: fmt.Sprintf("u%d", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := st.Create(ctx, r, nil, store.Write{Policy: &p}); err != nil {
			t.Fatal(err)
		}
	}
	r := &store.Resource{Org: "quick", Kind: store.KindUser, ID: "q", Name: "quick", Active: true, Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
	if err := st.Create(ctx, r, nil, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	more, err := d.deliver(ctx, slow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.deliver(ctx, quick); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	state, _ := st.Delivery(ctx, "sub-slow", "slow", time.Time{})
	if !more || state.DeliveredSeq == 0 || state.DeliveredSeq >= 30 {
		t.Fatalf("the slow receiver's pair sent up to event %d of 30 (more: %v): want it cut short and called again", state.DeliveredSeq, more)
	}
	if got, _ := st.Delivery(ctx, "sub-quick", "quick", time.Time{}); got.DeliveredSeq != 1 || elapsed > 2*time.Second {
		t.Fatalf("the other organization's event was delivered up to %d after %s (30 slow sends take 3 s)", got.DeliveredSeq, elapsed)
	}
}

// A batch cut short by the page's size (large snapshots) leaves its pair due at once: the
// deliverer reports more waiting, rather than the rest waiting an interval per megabyte.
func TestABatchCutBySizeRunsAgainAtOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rc, d, j := answeringPair(t, st, http.StatusOK)
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 200<<10)
	const users = 8 // 8 events of about 400 KiB: more than one page of 1 MiB, far fewer than a batch
	for i := range users {
		doc, _ := json.Marshal(map[string]any{"displayName": big, "title": big})
		createUser(t, st, "acme", fmt.Sprint("u", i), doc)
	}
	var err error
	runs := 0
	for more := true; more; runs++ {
		if runs > users {
			t.Fatal("the pair kept asking to run again")
		}
		if more, err = d.deliver(ctx, j); err != nil {
			t.Fatal(err)
		}
		if got := len(rc.sequences()); more != (got < users) {
			t.Fatalf("after run %d, %d of %d events sent, and more waiting: %v", runs+1, got, users, more)
		}
	}
	if runs < 2 {
		t.Fatalf("all %d large events went in one page of %d runs", users, runs)
	}
}

// A brought signing key that cannot be read (its Secret is missing) is not read again every
// interval: the failure is kept as long as a key would be.
func TestAMissingBroughtKeyIsNotReadEveryInterval(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var reads atomic.Int64
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads.Add(1)
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	d := &Deliverer{Client: k8s, APIReader: k8s}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr", UID: "sub-missing", Generation: 1},
		Spec: v1alpha1.EventSubscriptionSpec{SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: "missing"}}}}
	for range 10 {
		if _, err := d.signingKeys(context.Background(), sub); err == nil {
			t.Fatal("a missing Secret gave a key")
		}
	}
	if n := reads.Load(); n != 1 {
		t.Fatalf("the missing Secret was read %d times in 10 intervals, want once", n)
	}
}

// Why a send got no answer is said in a few words, never the address: lastError is shown to the
// tenant, and receivers may be anywhere in the cluster's private ranges.
func TestAConnectionFailureNamesNoAddress(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	closed := httptest.NewServer(http.NotFoundHandler())
	url := closed.URL
	closed.Close() // nothing listens there now: refused
	key, _ := NewSigningKey()
	d := &Deliverer{Store: st, HTTP: &http.Client{}}
	j := pairOf("acme", "hr", url, key)
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if state.LastError != "connection failed: refused" {
		t.Fatalf("lastError %q, want %q", state.LastError, "connection failed: refused")
	}
}

// An admin's replay while a round is sending (a slow receiver holds a turn for seconds) rewinds
// the subscription for good: the round's later outcomes, which read the subscription before the
// replay, no longer move it past the replayed events (store.DeliveryOutcome.From).
func TestAReplayDuringARoundIsNotUndone(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	key, _ := NewSigningKey()
	rc := &flaky{key: key, status: http.StatusOK}
	sending, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(rc.sequences()) == 1 { // the round's second event: the admin replays meanwhile
			once.Do(func() { close(sending); <-release })
		}
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	d := &Deliverer{Store: st, HTTP: srv.Client()}
	j := pairOf("acme", "hr", srv.URL, key)
	if _, err := d.deliver(ctx, j); err != nil { // starts the subscription: no events yet
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	events, err := st.Events(ctx, "acme", 0, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("events %+v (%v)", events, err)
	}
	// Event 1 was dead-lettered (its receiver refused it for retryFor).
	zero := int64(0)
	if err := st.RecordDelivery(ctx, string(j.sub.UID), "acme", 1, store.DeliveryOutcome{Kind: store.DeadLettered, EventID: events[0].ID,
		Type: string(events[0].Event.Type), Error: "HTTP 500", From: &zero}); err != nil {
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u2", []byte(`{}`))
	createUser(t, st, "acme", "u3", []byte(`{}`))

	done := make(chan error, 1)
	go func() { _, err := d.deliver(ctx, j); done <- err }()
	<-sending // event 2 acknowledged, event 3 on its way
	if n, err := st.Replay(ctx, string(j.sub.UID), "acme"); err != nil || n != 1 {
		t.Fatalf("replay: %d (%v)", n, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{}); state.DeliveredSeq != 0 {
		t.Fatalf("the round in flight undid the replay: the subscription is at %d, want 0", state.DeliveredSeq)
	}
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(rc.sequences()); got != "[2 3 1 2 3]" {
		t.Fatalf("the receiver got %s, want the round's 2 3, then the replay's 1 2 3", got)
	}
}

// Events pruned (past the retention) before a subscription delivered them are passed over and
// counted, once, however often their successor is retried: status shows them and the receiver
// learns it must rebuild, instead of delivery moving past them without a trace.
func TestEventsPrunedBeforeDeliveryAreCounted(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	rc, d, j, now := failingPair(t, st)
	if _, err := d.deliver(ctx, j); err != nil { // starts the subscription: no events yet
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	createUser(t, st, "acme", "u2", []byte(`{}`))
	cut := aMoment()
	createUser(t, st, "acme", "u3", []byte(`{}`))
	if n, err := st.PruneEvents(ctx, "acme", cut); err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want events 1 and 2", n, err)
	}
	for attempt := 1; attempt <= 2; attempt++ { // event 3 fails twice: the gap before it is passed over and counted once
		if _, err := d.deliver(ctx, j); err != nil {
			t.Fatal(err)
		}
		if state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{}); state.Lost != 2 || state.DeliveredSeq != 2 || state.Attempts != attempt {
			t.Fatalf("after failure %d of event 3: %+v, want at 2 with 2 lost", attempt, state)
		}
		*now = now.Add(2 * time.Hour) // past the backoff, well within retryFor
	}
	rc.set(http.StatusOK, "")
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if state.DeliveredSeq != 3 || state.Lost != 2 || state.LostAt.IsZero() {
		t.Fatalf("after delivering event 3: %+v, want at 3 with 2 lost", state)
	}
	if got := fmt.Sprint(rc.sequences()); got != "[3]" {
		t.Fatalf("the receiver got %s", got)
	}
}

// Rotating a signing key: while its Secret holds the replaced key beside the new one
// ("signing-key-previous"), every request is signed by both, so a receiver still on the old key
// and one already on the new accept it; a malformed previous key is refused like a malformed key.
func TestARotatedKeySignsBesideThePreviousOne(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	oldKey, _ := NewSigningKey()
	newKey, _ := NewSigningKey()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr-key"},
		Data: map[string][]byte{"signing-key": []byte(newKey), "signing-key" + PreviousKeySuffix: []byte(oldKey)}}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret).Build()
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr", UID: "sub-rotating", Generation: 1},
		Spec: v1alpha1.EventSubscriptionSpec{SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: "hr-key"}}}}
	d := &Deliverer{Client: k8s, APIReader: k8s}
	keys, err := d.signingKeys(context.Background(), sub)
	if err != nil || len(keys) != 2 || keys[0] != newKey || keys[1] != oldKey {
		t.Fatalf("keys %d (%v), want the new one, then the previous", len(keys), err)
	}

	ctx := context.Background()
	st := openStore(t)
	for name, receiverKey := range map[string]string{"a receiver on the old key": oldKey, "a receiver on the new key": newKey} {
		rc := &flaky{key: receiverKey, status: http.StatusOK}
		srv := httptest.NewServer(rc)
		j := pairOf("acme", name, srv.URL, "")
		j.keys = keys
		d := &Deliverer{Store: st, HTTP: srv.Client()}
		if _, err := d.deliver(ctx, j); err != nil {
			t.Fatal(err)
		}
		createUser(t, st, "acme", name, []byte(`{}`))
		if _, err := d.deliver(ctx, j); err != nil {
			t.Fatal(err)
		}
		srv.Close()
		if len(rc.sequences()) != 1 {
			t.Errorf("%s accepted %d events, want 1 (attempts %d)", name, len(rc.sequences()), rc.attempts)
		}
	}

	secret.Data["signing-key"+PreviousKeySuffix] = []byte("not-a-key")
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	if _, err := SigningKeys(context.Background(), k8s, k8s, sub); !errors.Is(err, ErrBadSigningKey) {
		t.Fatalf("a malformed previous key: %v, want ErrBadSigningKey", err)
	}
}

// A subscription first seen after its organization's data was deleted and set up again starts
// before the new data's first event: the numbers the deleted data had are not counted as events
// pruned before delivery, and nothing of the new data is skipped.
func TestASubscriptionOfARecreatedOrganizationLosesNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	for _, id := range []string{"u1", "u2", "u3"} {
		createUser(t, st, "acme", id, []byte(`{}`))
	}
	if err := st.DeleteOrganization(ctx, "acme", store.Binding{}); err != nil {
		t.Fatal(err)
	}
	rc, d, j := answeringPair(t, st, http.StatusOK)
	j.sub.CreationTimestamp = metav1.NewTime(time.Now().Add(-time.Hour)) // created before the deletion
	createUser(t, st, "acme", "u4", []byte(`{}`))
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if got := fmt.Sprint(rc.sequences()); got != "[4]" || state.Lost != 0 {
		t.Fatalf("the receiver got %s, %d counted lost; want the new data's event 4 and none lost", got, state.Lost)
	}
}

// A failing event pruned while it is retried hands nothing of its retry state on: the next event's
// failures are its own, with their own retryFor, not dead-lettered at once for the pruned one's.
func TestAPrunedFailingEventsRetryStateIsNotInherited(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	_, d, j, now := failingPair(t, st)
	j.sub.Spec.RetryFor = &metav1.Duration{Duration: time.Hour}
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	cut := aMoment()
	createUser(t, st, "acme", "u2", []byte(`{}`))
	if _, err := d.deliver(ctx, j); err != nil { // event 1 fails at now
		t.Fatal(err)
	}
	if n, err := st.PruneEvents(ctx, "acme", cut); err != nil || n != 1 {
		t.Fatalf("pruned %d (%v), want event 1", n, err)
	}
	*now = now.Add(61 * time.Minute) // past event 1's retryFor
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if state.DeadLettered != 0 || state.Attempts != 1 || state.DeliveredSeq != 1 || state.Lost != 1 || !state.FirstFailure.Equal(now.Truncate(time.Microsecond)) {
		t.Fatalf("event 2's first failure: %+v, want a retry of its own (attempt 1 from now), event 1 counted lost", state)
	}
}

// A Secret of the generated signing key's name that the subscription does not own (planted by
// whoever may write Secrets in the namespace, before the subscription existed) is never signed
// with: its key is someone else's choice. The subscription's own Secret is.
func TestAPlantedSigningKeyIsNeverUsed(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "hr", UID: "sub-uid", Generation: 1}}
	planted, _ := NewSigningKey()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: v1alpha1.SigningKeySecretName(sub.Name)},
		Data: map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(planted)}}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(secret).Build()
	if keys, err := SigningKeys(context.Background(), k8s, k8s, sub); !errors.Is(err, ErrSigningKeyNotOwned) {
		t.Fatalf("signed with a planted key (%d keys, %v)", len(keys), err)
	}
	controller := true
	secret.OwnerReferences = []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "EventSubscription",
		Name: sub.Name, UID: sub.UID, Controller: &controller}}
	if err := k8s.Update(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	if keys, err := SigningKeys(context.Background(), k8s, k8s, sub); err != nil || len(keys) != 1 || keys[0] != planted {
		t.Fatalf("the subscription's own key: %d keys, %v", len(keys), err)
	}
}
