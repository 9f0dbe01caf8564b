package scim

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// requestAudit starts the audit event of a request; the handler completes it. Values are never
// recorded, and the query string is left out (filters carry personal data).
// Text the client chooses is cut to a bound (and to valid UTF-8, which PostgreSQL requires of a
// text column): an audit row must not grow with whatever a caller puts in a URL.
func requestAudit(r *http.Request, c *tenant.Caller, action, resourceType string) *store.AuditEvent {
	e := &store.AuditEvent{
		Time: time.Now().UTC(), RequestID: newID(), Action: action, Client: truncateUTF8(r.UserAgent(), 200),
		Method: truncateUTF8(r.Method, 16), Path: truncateUTF8(r.URL.Path, maxAuditPath), ResourceType: resourceType,
		ResourceID: truncateUTF8(r.PathValue("id"), maxAuditPath),
	}
	if c != nil {
		e.Org, e.Binding, e.TokenFingerprint = c.Organization.Name, c.Organization.Binding, c.Fingerprint
	}
	return e
}

// write is the store.Write of a request: the organization's policy, its audit event, and the
// binding the organization is served under (its fence).
func write(c *tenant.Caller, e *store.AuditEvent) store.Write {
	p := c.Organization.Policy
	return store.Write{Policy: &p, Audit: e, Binding: c.Organization.Binding}
}

// writeCounted is write with the count of memberships the write changes reported, for the
// rate limit's charge after it (the settle of Server.chargeMembers).
func writeCounted(c *tenant.Caller, e *store.AuditEvent) (store.Write, *int) {
	w := write(c, e)
	w.Memberships = new(int)
	return w, w.Memberships
}

// changedAttributes names the top-level attributes that differ between two documents.
func changedAttributes(before, after map[string]any) []string {
	var out []string
	for k, v := range after {
		// An attribute the document did not have changed unless it is null: no need to encode it
		// to tell (a create compares against nothing).
		if b, had := before[k]; !had && v != nil || had && !equalJSON(b, v) {
			out = append(out, k)
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// maxAuditPath bounds a recorded path or resource id; real ones are far shorter.
const maxAuditPath = 512

// truncateUTF8 cuts s to at most n bytes of valid UTF-8.
func truncateUTF8(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.ToValidUTF8(s, "")
}

// auditLog records the events of requests that write nothing (reads, refusals) in batches, so
// auditing a read costs a channel send rather than a transaction. Writes record theirs in their
// own transaction. Identical requests between two batches are one event with a count
// (audit_tally.go). Refusals are aggregated (refusals.go) and recorded once a second.
//
// A full queue drops events rather than block requests, and a failed batch loses its events:
// both are counted (dropped, exported as Server.DroppedAuditEvents) and logged at most once a
// minute.
type auditLog struct {
	once    sync.Once
	events  chan store.AuditEvent
	st      store.Store
	log     *slog.Logger
	refused refusals
	dropped atomic.Uint64
	// queuedMu guards queued: the events of each organization in the queue.
	queuedMu sync.Mutex
	queued   map[string]int
	// stop asks the writer to record what is queued and end; done says it has.
	stop, done chan struct{}
	closed     sync.Once
}

func (a *auditLog) start(st store.Store) {
	a.once.Do(func() {
		a.st = st
		if a.log == nil {
			a.log = slog.Default()
		}
		a.events = make(chan store.AuditEvent, auditQueue)
		a.queued = map[string]int{}
		a.stop, a.done = make(chan struct{}), make(chan struct{})
		go a.run()
	})
}

func (a *auditLog) record(st store.Store, e *store.AuditEvent) {
	if e == nil || e.Org == "" {
		return
	}
	a.start(st)
	// One organization's share of the queue is bounded: an identity provider reading distinct
	// users at its rate limit (no two reads fold into one event) must not fill the queue and have
	// the other organizations' read audit events dropped.
	a.queuedMu.Lock()
	if a.queued[e.Org] >= auditQueuePerOrganization {
		a.queuedMu.Unlock()
		a.dropped.Add(1)
		return
	}
	a.queued[e.Org]++
	a.queuedMu.Unlock()
	select {
	case a.events <- e.Bounded(): // the queue and the tally hold events of bounded size
	default: // the log is saturated: never block a request on it
		a.taken(e.Org)
		a.dropped.Add(1)
	}
}

// The audit queue's size, and one organization's share of it.
const (
	auditQueue                = 4096
	auditQueuePerOrganization = auditQueue / 8
)

// taken notes that an event of org left the queue.
func (a *auditLog) taken(org string) {
	a.queuedMu.Lock()
	if a.queued[org]--; a.queued[org] <= 0 {
		delete(a.queued, org)
	}
	a.queuedMu.Unlock()
}

// refuse counts a refused request of an organization from source.
func (a *auditLog) refuse(st store.Store, e *store.AuditEvent, source string) {
	if e == nil || e.Org == "" {
		return
	}
	a.start(st)
	a.refused.add(e.Bounded(), source)
}

// close records the queued events and stops the writer; the store must still be open.
func (a *auditLog) close() {
	a.once.Do(func() {}) // never started: nothing queued
	a.closed.Do(func() {
		if a.stop != nil {
			close(a.stop)
			<-a.done
		}
	})
}

func (a *auditLog) run() {
	defer close(a.done)
	// At most maxTallied distinct events wait for a flush; identical ones fold into one.
	const maxTallied = 256
	var tally auditTally
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var ticks int
	var reported uint64
	var reportedAt time.Time
	flush := func() {
		batch := tally.drain()
		if len(batch) == 0 {
			return
		}
		if err := a.st.RecordAudit(context.Background(), batch); err != nil {
			for _, e := range batch {
				a.dropped.Add(uint64(max(e.Count, 1)))
			}
		}
	}
	flushRefusals := func() {
		refused := a.refused.drain()
		if err := a.st.RecordRefusals(context.Background(), refused); err != nil {
			n := 0
			for _, r := range refused {
				n += r.Event.Count
			}
			a.dropped.Add(uint64(n))
		}
	}
	report := func(force bool) {
		n := a.dropped.Load()
		if n != reported && (force || time.Since(reportedAt) >= time.Minute) {
			a.log.Warn("Audit events were lost: the audit queue was full or the store refused a batch",
				"lost", n-reported, "lostSinceStart", n)
			reported, reportedAt = n, time.Now()
		}
	}
	add := func(e store.AuditEvent) {
		a.taken(e.Org)
		if tally.add(e) == maxTallied {
			flush()
		}
	}
	for {
		select {
		case e := <-a.events:
			add(e)
		case <-tick.C:
			flush()
			if ticks++; ticks%10 == 0 {
				flushRefusals()
				report(false)
			}
		case <-a.stop:
			for { // record what is still queued, then end
				select {
				case e := <-a.events:
					add(e)
				default:
					flush()
					flushRefusals()
					report(true)
					return
				}
			}
		}
	}
}

func actionName(kind store.Kind, verb string) string {
	return strings.ToLower(string(kind)) + "." + verb
}
