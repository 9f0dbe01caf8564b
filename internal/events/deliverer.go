package events

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Delivery bounds.
const (
	// batch is how many events one turn of a pair reads for one subscription and organization.
	batch = 100
	// maxBackoff caps the wait between attempts, and a receiver's Retry-After.
	maxBackoff = time.Hour
	// maxResponse is how much of a receiver's answer is read (and thrown away): never stored.
	maxResponse = 4 << 10
	// DefaultRetryFor is how long an event is retried before it is dead-lettered.
	DefaultRetryFor = 72 * time.Hour
)

// jobTimeBudget is how long one (subscription, organization) pair sends before the rest of its
// batch waits for its next turn: a receiver answering each event just inside the send timeout
// would otherwise hold a worker for a batch of such sends (about 16 minutes). A variable for the
// tests.
var jobTimeBudget = 5 * time.Second

// Deliverer sends each EventSubscription the events of the organizations it covers, in order per
// organization, at least once: an event is recorded as delivered only after the receiver's 2xx,
// so a crash in between sends it again (its id makes that harmless). It runs on the elected
// leader and only reads what SCIM writes committed, so it never slows a write.
type Deliverer struct {
	Store store.Store
	// Client reads EventSubscriptions, RoleTemplates and generated signing-key Secrets (cached);
	// APIReader reads brought signing keys (not cached), through BroughtKeys (shared with the
	// EventSubscription controller; one of its own when nil).
	Client      client.Reader
	APIReader   client.Reader
	BroughtKeys *BroughtKeys
	Registry    *tenant.Registry
	// HTTP sends the webhooks; it must refuse addresses tenants may not reach (internal/outbound).
	HTTP *http.Client
	// Interval is how long a pair with nothing left waits before it is served again (default
	// 1s); Workers bounds the (subscription, organization) pairs served at once (default 32), a
	// sixteenth of them (at least one) for one namespace; their store calls take turns
	// (store_turns.go). A pair sends for at most jobTimeBudget
	// (and one send's timeout) before giving its worker back, so a slow receiver delays other
	// organizations' deliveries by seconds, not by its batch of slow sends (schedule.go).
	Interval time.Duration
	Workers  int
	Log      logr.Logger
	Metrics  *Metrics
	Now      func() time.Time

	// idle passes over pairs with nothing new without reading the store (idle.go).
	idle idlePairs
	// turns is Store with the delivery calls in turns (store_turns.go).
	turnsOnce sync.Once
	turns     *storeTurns
	keysOnce  sync.Once
}

// NeedLeaderElection is true: one replica delivers (the store records progress for all).
func (d *Deliverer) NeedLeaderElection() bool { return true }

// defaultWorkers is how many pairs are delivered at once. A run mostly waits on its receiver, so
// workers are cheap; each namespace holds at most a sixteenth of them (two), so it takes sixteen
// namespaces whose receivers answer just inside the time budget to hold them all, where four did
// with eight workers.
const defaultWorkers = 32

// Start delivers until ctx ends (schedule.go).
func (d *Deliverer) Start(ctx context.Context) error {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	workers := d.Workers
	if workers <= 0 {
		workers = defaultWorkers
	}
	s := &schedule{workers: workers, perNamespace: max(1, workers/16), interval: interval}
	s.run(ctx, func() []job { return d.jobs(ctx) }, func(j job) bool { return d.deliverLogged(ctx, j) })
	return nil
}

// job is one subscription's delivery for one organization.
type job struct {
	sub *v1alpha1.EventSubscription
	org tenant.Organization
	// keys sign the requests: the current key, then the previous one during a rotation. Read in
	// the pair's run (current), never on the scheduling loop.
	keys []string
}

// jobs lists the pairs to serve: every subscription that is not paused, for each organization it
// covers. It runs on the scheduling loop, which starts every namespace's pairs: it reads only the
// manager's cache and one statement of the store, never a Secret from the API server.
func (d *Deliverer) jobs(ctx context.Context) []job {
	var subs v1alpha1.EventSubscriptionList
	if err := d.Client.List(ctx, &subs); err != nil {
		d.Log.Error(err, "Listing event subscriptions")
		return nil
	}
	var jobs []job
	positions, err := d.store().DeliveryPositions(ctx)
	if err != nil {
		d.Log.Error(err, "Reading the deliveries' positions")
	}
	d.idle.set(positions) // nil on an error: every pair runs
	orgs := d.Registry.Organizations()
	for i := range subs.Items {
		sub := &subs.Items[i]
		if sub.Spec.Paused || !sub.DeletionTimestamp.IsZero() {
			continue
		}
		for _, org := range Covered(sub, orgs) {
			jobs = append(jobs, job{sub: sub, org: org})
		}
	}
	return jobs
}

// signingKeys reads a subscription's keys: a generated key from the manager's cache, a brought
// one through BroughtKeys (brought_keys.go).
func (d *Deliverer) signingKeys(ctx context.Context, sub *v1alpha1.EventSubscription) ([]string, error) {
	d.keysOnce.Do(func() {
		if d.BroughtKeys == nil {
			reader := d.APIReader
			if reader == nil {
				reader = d.Client
			}
			d.BroughtKeys = &BroughtKeys{Reader: reader, Now: d.now}
		}
	})
	return d.BroughtKeys.SigningKeys(ctx, d.Client, sub)
}

// Covered lists the organizations a subscription receives: those served from its own namespace,
// narrowed to spec.organizations. An organization of another namespace is never among them.
func Covered(sub *v1alpha1.EventSubscription, orgs []tenant.Organization) []tenant.Organization {
	var out []tenant.Organization
	for _, o := range orgs {
		if o.Integration.Namespace == sub.Namespace && (len(sub.Spec.Organizations) == 0 || slices.Contains(sub.Spec.Organizations, o.Name)) {
			out = append(out, o)
		}
	}
	return out
}

func (d *Deliverer) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// deliver sends one organization's pending events to one subscription, until one fails; it
// reports whether it read a full batch. A round whose subscription moved under it (a replay,
// another replica) ends there: the next round reads it anew.
func (d *Deliverer) deliver(ctx context.Context, j job) (bool, error) {
	full, err := d.round(ctx, j)
	if errors.Is(err, store.ErrDeliveryMoved) {
		return true, nil // run again at once, from where the subscription now stands
	}
	return full, err
}

func (d *Deliverer) round(ctx context.Context, j job) (bool, error) {
	subID := string(j.sub.UID)
	st, err := d.store().Delivery(ctx, subID, j.org.Name, j.sub.CreationTimestamp.Time)
	if err != nil {
		return false, err
	}
	if d.now().Before(st.NextAttempt) {
		return false, nil
	}
	pending, err := d.store().Events(ctx, j.org.Name, st.DeliveredSeq, batch)
	if err != nil {
		return false, err
	}
	// pos is where this round found the subscription, then where its outcomes moved it: each
	// outcome is recorded only while the subscription still stands there (store.DeliveryOutcome.From),
	// so a replay during the round is not undone by the round's later outcomes.
	pos := st.DeliveredSeq
	from := func() *int64 { p := pos; return &p }
	// lost: events pruned (past the retention) before they were delivered, found as gaps between
	// the numbers read (an organization's numbers have none otherwise; pruning by time can leave
	// one anywhere), not yet passed over. An outcome counts those before its event as it moves
	// the subscription past them; lostToSkipped are those before the last skipped event.
	lost, lostToSkipped, prev := int64(0), int64(0), pos
	passed := func() int64 { n := lost; lost, lostToSkipped = 0, 0; return n }
	passedToSkipped := func() int64 { n := lostToSkipped; lost, lostToSkipped = lost-n, 0; return n }
	skipped, skippedID := int64(0), ""
	permissions := d.permissions(ctx, j.org.Integration.Namespace)
	started, cut := time.Now(), false
	for i, r := range pending {
		if i > 0 && time.Since(started) > jobTimeBudget {
			cut = true // a slow receiver gives its worker back; the rest goes in its next turn
			break
		}
		lost += max(r.Seq-prev-1, 0)
		prev = r.Seq
		if !Wants(j.sub.Spec.Types, string(r.Event.Type)) {
			skipped, skippedID, lostToSkipped = r.Seq, r.ID, lost
			d.Metrics.observe(resultSkipped, time.Time{})
			continue
		}
		body, err := Render(j.org.Name, r, permissions)
		if err != nil {
			return false, err
		}
		failure, retryAfter := d.send(ctx, j, r, body)
		if failure == "" {
			skipped = 0
			d.Metrics.observe(resultDelivered, r.Time)
			if err := d.store().RecordDelivery(ctx, subID, j.org.Name, r.Seq, store.DeliveryOutcome{Kind: store.Delivered, At: d.now(), EventID: r.ID,
				From: from(), Lost: passed()}); err != nil {
				return false, err
			}
			pos, st.Attempts, st.FirstFailure = r.Seq, 0, time.Time{}
			continue
		}
		if skipped > 0 { // the failure is recorded against the event after the last one passed
			if err := d.store().RecordDelivery(ctx, subID, j.org.Name, skipped, store.DeliveryOutcome{Kind: store.Skipped, At: d.now(), EventID: skippedID,
				From: from(), Lost: passedToSkipped()}); err != nil {
				return false, err
			}
			pos, st.Attempts, st.FirstFailure = skipped, 0, time.Time{} // this event's failure is its own
		}
		return false, d.failed(ctx, j, st, r, pos, lost, failure, retryAfter)
	}
	// More wait when the batch was cut (by time, or by the page's size) or is followed by newer
	// events: then the pair runs again as soon as a worker is free, not an interval later.
	full := len(pending) == batch || cut || len(pending) > 0 && pending[len(pending)-1].Seq < st.LatestSeq
	if skipped > 0 {
		return full, d.store().RecordDelivery(ctx, subID, j.org.Name, skipped, store.DeliveryOutcome{Kind: store.Skipped, At: d.now(), EventID: skippedID,
			From: from(), Lost: passed()})
	}
	if len(pending) == 0 && st.LatestSeq > pos {
		// Every event up to LatestSeq (read before the events) was pruned: passed over and
		// counted, as a gap before a kept event is. Otherwise a quiet organization would leave
		// them uncounted, and a failing one's retry state, for good.
		return false, d.store().RecordDelivery(ctx, subID, j.org.Name, st.LatestSeq, store.DeliveryOutcome{Kind: store.Skipped, At: d.now(),
			From: from(), Lost: st.LatestSeq - pos})
	}
	return full, nil
}

// failed records a failed attempt: a retry after a backoff (at least the receiver's
// Retry-After), or, once retryFor has passed since the first failure, a dead letter.
// lost counts the pruned events right before r, which a dead letter passes over too (a retry
// does not move the subscription: the next round counts them). With some, the retry state
// read was a pruned event's: r's failure is its own, and starts its retryFor now.
func (d *Deliverer) failed(ctx context.Context, j job, st *store.Delivery, r store.EventRecord, pos, lost int64, failure string,
	retryAfter time.Duration) error {
	now := d.now()
	subID := string(j.sub.UID)
	if lost > 0 {
		st.Attempts, st.FirstFailure = 0, time.Time{}
	}
	retryFor := DefaultRetryFor
	if j.sub.Spec.RetryFor != nil {
		retryFor = j.sub.Spec.RetryFor.Duration
	}
	if !st.FirstFailure.IsZero() && now.Sub(st.FirstFailure) >= retryFor {
		d.Metrics.observe(resultDeadLettered, time.Time{})
		return d.store().RecordDelivery(ctx, subID, j.org.Name, r.Seq, store.DeliveryOutcome{Kind: store.DeadLettered, At: now, EventID: r.ID,
			Type: string(r.Event.Type), Error: failure, From: &pos, Lost: lost})
	}
	d.Metrics.observe(resultFailed, time.Time{})
	wait := max(Backoff(st.Attempts+1), min(retryAfter, maxBackoff))
	return d.store().RecordDelivery(ctx, subID, j.org.Name, r.Seq, store.DeliveryOutcome{Kind: store.Failed, At: now, EventID: r.ID,
		RetryAt: now.Add(wait), Error: failure, From: &pos, Lost: lost})
}

// Backoff is the wait before attempt n (n ≥ 1): exponential from one second, capped at an hour,
// with jitter (half to all of it) so receivers recovering together are not hit at once.
func Backoff(n int) time.Duration {
	base := maxBackoff
	if n < 13 {
		base = min(time.Second<<n, maxBackoff)
	}
	return base/2 + rand.N(base/2+1) //nolint:gosec // jitter, not a secret
}

// send POSTs one event; it returns "" on a 2xx, else what failed (a status or a connection
// error, never the receiver's body) and the receiver's Retry-After.
func (d *Deliverer) send(ctx context.Context, j job, r store.EventRecord, body []byte) (string, time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.sub.Spec.URL, bytes.NewReader(body))
	if err != nil {
		return "invalid URL", 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "enterprise-identity-operator")
	if err := Sign(req.Header, j.keys, r.ID, d.now(), body); err != nil {
		return "signing failed", 0
	}
	resp, err := d.HTTP.Do(req)
	if err != nil {
		return connectionFailure(err), 0
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponse))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return "", 0
	}
	return fmt.Sprintf("HTTP %d", resp.StatusCode), retryAfterOf(resp.Header.Get("Retry-After"), d.now())
}

// retryAfterOf reads Retry-After: seconds or an HTTP date.
func retryAfterOf(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// permissions reads role permissions from the RoleTemplates of the organization's namespace.
func (d *Deliverer) permissions(ctx context.Context, namespace string) Permissions {
	if d.Client == nil {
		return nil
	}
	return func(role string) []string {
		rt := &v1alpha1.RoleTemplate{}
		if err := d.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: role}, rt); err != nil {
			return nil
		}
		return rt.Spec.Permissions
	}
}

// connectionFailure says why a send got no answer in a few words, never the addresses the error
// names: lastError is shown to the tenant, and receivers may be anywhere in the cluster's private
// ranges (which the subscription's own namespace may not otherwise learn about).
func connectionFailure(err error) string {
	var dnsErr *net.DNSError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "connection failed: no answer within 10 s"
	case errors.As(err, &dnsErr):
		return "connection failed: the host name does not resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection failed: refused"
	}
	if blocked := (*outbound.BlockedError)(nil); errors.As(err, &blocked) {
		return "connection failed: the address is not allowed (" + blocked.Range + ")"
	}
	var tlsErr *tls.CertificateVerificationError
	if errors.As(err, &tlsErr) {
		return "connection failed: the receiver's TLS certificate is not trusted"
	}
	return "connection failed"
}
