package ha

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// webhookReceiver is an application on loopback receiving the operator's webhooks: it verifies
// every request with the Standard Webhooks reference library, acknowledges it, and keeps every
// request it acknowledged in arrival order (redeliveries included).
type webhookReceiver struct {
	verifier *standardwebhooks.Webhook
	mu       sync.Mutex
	// received is every acknowledged request, in arrival order.
	received []received
	// first maps an event id to its first receipt; provisioned a lowercased userName to the ids of
	// its member.provisioned events.
	first       map[string]received
	provisioned map[string][]string
	times       map[string]int
	refused     int
	// crash, when set, runs once inside the next request, after the event is recorded as
	// applied and before the answer: the sender dies between sending and recording the delivery.
	crash func()
	// crashedOn is the id of the event the sender died delivering.
	crashedOn string
}

// received is one acknowledged webhook.
type received struct {
	id, typ, org, userName string
	seq                    int64
	at                     time.Time
}

func newWebhookReceiver(t *testing.T, key string) *webhookReceiver {
	t.Helper()
	v, err := standardwebhooks.NewWebhook(key)
	if err != nil {
		t.Fatal(err)
	}
	return &webhookReceiver{verifier: v, first: map[string]received{}, provisioned: map[string][]string{}, times: map[string]int{}}
}

func (rc *webhookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID           string
		Type         string
		Organization string
		Sequence     int64
		Data         struct{ Member struct{ UserName string } }
	}
	if rc.verifier.Verify(body, r.Header) != nil || json.Unmarshal(body, &ev) != nil || ev.ID != r.Header.Get(standardwebhooks.HeaderWebhookID) {
		rc.mu.Lock()
		rc.refused++
		rc.mu.Unlock()
		http.Error(w, "invalid signature or event", http.StatusUnauthorized)
		return
	}
	rec := received{id: ev.ID, typ: ev.Type, org: ev.Organization, userName: strings.ToLower(ev.Data.Member.UserName), seq: ev.Sequence, at: at}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.received = append(rc.received, rec)
	rc.times[rec.id]++
	if rc.crash != nil {
		rc.crashedOn = rec.id
		rc.crash()
		rc.crash = nil
	}
	if _, ok := rc.first[rec.id]; !ok {
		rc.first[rec.id] = rec
		if rec.typ == "member.provisioned" {
			rc.provisioned[rec.userName] = append(rc.provisioned[rec.userName], rec.id)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// streamReport is what the order of the received requests shows.
type streamReport struct {
	// first and last are the lowest and highest sequence received; distinct counts sequences.
	first, last, distinct int64
	// redelivered counts requests of an event already acknowledged; rewinds the times the stream
	// went back to an earlier sequence (a new leader resending from the last recorded delivery).
	redelivered, rewinds int
	// gaps lists sequences received when the one before them never was; changedIDs sequences
	// that came again under another id.
	gaps, changedIDs []int64
	// lastAt is when the last request arrived.
	lastAt time.Time
}

// stream checks the requests of one organization in arrival order: each is the next sequence, or
// a redelivery of one already received (after a crash); never one beyond the next.
func (rc *webhookReceiver) stream(org string) streamReport {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var s streamReport
	ids := map[int64]string{}
	prev := int64(0)
	for _, r := range rc.received {
		if r.org != org {
			continue
		}
		s.lastAt = r.at
		if id, ok := ids[r.seq]; ok {
			s.redelivered++
			if id != r.id {
				s.changedIDs = append(s.changedIDs, r.seq)
			}
		} else {
			ids[r.seq] = r.id
			s.distinct++
			if s.first == 0 || r.seq < s.first {
				s.first = r.seq
			}
			if s.last != 0 && r.seq != s.last+1 {
				s.gaps = append(s.gaps, r.seq)
			}
			s.last = max(s.last, r.seq)
		}
		if prev != 0 && r.seq <= prev {
			s.rewinds++
		}
		prev = r.seq
	}
	return s
}

// firstAfter is the first request received after t, and whether there is one.
func (rc *webhookReceiver) firstAfter(t time.Time) (received, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, r := range rc.received {
		if r.at.After(t) {
			return r, true
		}
	}
	return received{}, false
}

func (rc *webhookReceiver) provisionedIDs(userName string) []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.provisioned[strings.ToLower(userName)]
}

// subscribe creates an EventSubscription of the organizations of orgNamespace to url, signed with
// a key brought in a Secret (so the receiver knows it from the start), and waits until it is Ready.
func (c *cluster) subscribe(t *testing.T, name, url string) (key string, uid types.UID) {
	t.Helper()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	key = "whsec_" + base64.StdEncoding.EncodeToString(b)
	ctx := t.Context()
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: orgNamespace, Name: name + "-key"},
		StringData: map[string]string{v1alpha1.SecretKeySigningKey: key}}
	if err := c.k8s.Create(ctx, secret); err != nil {
		t.Fatal(err)
	}
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: orgNamespace, Name: name},
		Spec: v1alpha1.EventSubscriptionSpec{URL: url,
			SigningKey: &v1alpha1.SigningKeySpec{SecretRef: v1alpha1.SigningKeySecretRef{Name: secret.Name, Key: v1alpha1.SecretKeySigningKey}}}}
	if err := c.k8s.Create(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, ok := waitFor(2*time.Minute, func() bool {
		_ = c.k8s.Get(ctx, types.NamespacedName{Namespace: orgNamespace, Name: name}, sub)
		return meta.IsStatusConditionTrue(sub.Status.Conditions, v1alpha1.ConditionReady)
	}); !ok {
		t.Fatalf("the subscription %s was not Ready within 2 minutes: %+v", name, sub.Status.Conditions)
	}
	return key, sub.UID
}

// kill -9 of the leader, which delivers the webhooks, during a burst of SCIM creates: once the
// writes are done and delivery has caught up, every committed write's event reached the
// receiver, signed, in sequence order without a gap; the only cost of the kill is that events
// sent but not yet recorded as delivered come again, with the same id.
func TestWebhooksThroughKillOnPostgres(t *testing.T) {
	// The receiver listens on loopback, which webhooks may reach only when the operator allows it.
	c := newCluster(t, 3, "--allow-outbound-cidrs", "127.0.0.1/32")
	ctx := t.Context()
	c.waitLeader(t, 2*time.Minute)
	const org = "alpha"
	c.createOrganization(t, org)
	c.waitOrganizationReady(t, org, 2*time.Minute)
	token := c.token(t, org)
	c.waitServed(t, org, token)

	var rc *webhookReceiver
	ready := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-ready; rc.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	key, uid := c.subscribe(t, "hr-app", srv.URL+"/webhooks")
	rc = newWebhookReceiver(t, key)
	close(ready)

	// A subscription receives what happens once its delivery has started: a first event through
	// it marks the start, so that every write of the burst comes after it.
	n, workers := 1000, 12
	if *haFull {
		n = 5000
	}
	probe := newWrites()
	if newSCIMClient(c, org, token, 1).create(ctx, probe, userName("probe", 0), 0) == "" {
		t.Fatalf("creating the probe user: %v", probe.failed)
	}
	if _, ok := waitFor(failoverBound+time.Minute, func() bool { return len(rc.provisionedIDs(userName("probe", 0))) > 0 }); !ok {
		t.Fatal("the probe user's member.provisioned event never arrived")
	}
	start := rc.stream(org).first

	// The leader is killed while it waits for the receiver's answer to an event the receiver has
	// already applied: the delivery is never recorded, and the next leader must send it again.
	crashDuringDelivery := func(leader *replica) {
		crashed := make(chan struct{})
		rc.mu.Lock()
		rc.crash = func() { leader.kill(t); close(crashed) }
		rc.mu.Unlock()
		select {
		case <-crashed:
		case <-time.After(time.Minute):
			rc.mu.Lock()
			rc.crash = nil
			rc.mu.Unlock()
			t.Log("no delivery came within a minute of arming the crash; killing the leader between deliveries")
			leader.kill(t)
		}
	}
	w, killed, ended := c.writeThroughKill(ctx, t, token, "hook", n, workers, crashDuringDelivery)

	// Wait until the receiver has every event the organization's outbox holds.
	st, err := sqlstore.OpenPostgres(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	outbox := readOutbox(ctx, t, st, org, start-1)
	head := outbox[len(outbox)-1].Seq
	drainBound := 3*time.Minute + time.Duration(n)*50*time.Millisecond
	if _, ok := waitFor(drainBound, func() bool { s := rc.stream(org); return s.last >= head && len(s.gaps) == 0 }); !ok {
		s := rc.stream(org)
		t.Fatalf("delivery did not catch up within %s: received up to sequence %d of %d, gaps at %v", drainBound, s.last, head, s.gaps)
	}
	s := rc.stream(org)

	// Every event of the outbox arrived, under its own id; none arrived that the outbox lacks.
	rc.mu.Lock()
	for _, e := range outbox {
		r, ok := rc.first[e.ID]
		switch {
		case !ok:
			t.Errorf("event %d (%s, %s) was never delivered", e.Seq, e.ID, e.Event.Type)
		case r.seq != e.Seq:
			t.Errorf("event %s arrived as sequence %d, the outbox has %d", e.ID, r.seq, e.Seq)
		}
	}
	refused, crashedOn := rc.refused, rc.crashedOn
	if crashedOn != "" && rc.times[crashedOn] < 2 {
		t.Errorf("event %s, applied by the receiver when the leader was killed before it answered, was not sent again", crashedOn)
	}
	rc.mu.Unlock()
	if want := int64(len(outbox)); s.distinct != want {
		t.Errorf("%d distinct sequences arrived, the outbox holds %d events from sequence %d", s.distinct, want, start)
	}
	if refused != 0 {
		t.Errorf("%d requests failed the Standard Webhooks verification", refused)
	}
	if len(s.gaps) > 0 || len(s.changedIDs) > 0 {
		t.Errorf("the stream skipped ahead at sequences %v, and changed the id of sequences %v", s.gaps, s.changedIDs)
	}

	// Every write acknowledged 201, and every write committed with its answer lost (409 on the
	// retry), produced exactly one member.provisioned event, which arrived.
	committed := make([]string, 0, len(w.acknowledged)+len(w.unacknowledged))
	for name := range w.acknowledged {
		committed = append(committed, name)
	}
	committed = append(committed, w.unacknowledged...)
	missing := 0
	for _, name := range committed {
		if ids := rc.provisionedIDs(name); len(ids) != 1 {
			if missing++; missing <= 10 {
				t.Errorf("user %s: %d member.provisioned events arrived, want 1", name, len(ids))
			}
		}
	}

	resumed, _ := rc.firstAfter(killed)
	d, err := st.Delivery(ctx, string(uid), org, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if d.DeliveredSeq != d.LatestSeq {
		t.Errorf("the store records delivery up to %d of %d", d.DeliveredSeq, d.LatestSeq)
	}
	t.Logf("FIGURE webhooks through kill -9 of the leader: %d creates (%d acknowledged, %d committed with the answer lost, %d failed); "+
		"%d events (sequences %d–%d) all delivered, %d of them for the creates, %d missing; %d requests redelivered an acknowledged event "+
		"(%d rewinds); deliveries resumed %s after the kill; the last event arrived %s after the last write's answer; "+
		"%.0f events/s from the probe to the last; %d refused signatures",
		n, len(w.acknowledged), len(w.unacknowledged), len(w.failed), len(outbox), start, head, len(committed)-missing, missing,
		s.redelivered, s.rewinds, resumed.at.Sub(killed).Round(100*time.Millisecond), s.lastAt.Sub(ended).Round(100*time.Millisecond),
		float64(s.distinct)/s.lastAt.Sub(rc.firstAt()).Seconds(), refused)
}

func (rc *webhookReceiver) firstAt() time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.received[0].at
}

// readOutbox reads the organization's events after sequence after, in order.
func readOutbox(ctx context.Context, t *testing.T, st *sqlstore.Store, org string, after int64) []store.EventRecord {
	t.Helper()
	var out []store.EventRecord
	for {
		page, err := st.Events(ctx, org, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		out = append(out, page...)
		after = page[len(page)-1].Seq
	}
	if len(out) == 0 {
		t.Fatal("the outbox holds no events")
	}
	return out
}
