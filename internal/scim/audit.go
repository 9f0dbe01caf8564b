package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// requestAudit starts the audit event of a request; the handler completes it. Values are never
// recorded, and the query string is left out (filters carry personal data).
func requestAudit(r *http.Request, c *tenant.Caller, action, resourceType string) *store.AuditEvent {
	client := r.UserAgent()
	if len(client) > 200 {
		client = client[:200]
	}
	e := &store.AuditEvent{
		Time: time.Now().UTC(), RequestID: newID(), Action: action, Client: client,
		Method: r.Method, Path: r.URL.Path, ResourceType: resourceType, ResourceID: r.PathValue("id"),
	}
	if c != nil {
		e.Org, e.TokenFingerprint = c.Organization.Name, c.Fingerprint
	}
	return e
}

// write is the store.Write of a request: the organization's policy and its audit event.
func write(c *tenant.Caller, e *store.AuditEvent) store.Write {
	p := c.Organization.Policy
	return store.Write{Policy: &p, Audit: e}
}

// changedAttributes names the top-level attributes that differ between two documents.
func changedAttributes(before, after map[string]any) []string {
	var out []string
	for k, v := range after {
		if !equalValues(before[k], v) {
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

// auditLog records the events of requests that write nothing (reads, refusals) in batches, so
// auditing a read costs a channel send rather than a transaction. Writes record theirs in their
// own transaction.
type auditLog struct {
	once   sync.Once
	events chan store.AuditEvent
	st     store.Store
	// stop asks the writer to record what is queued and end; done says it has.
	stop, done chan struct{}
	closed     sync.Once
}

func (a *auditLog) start(st store.Store) {
	a.once.Do(func() {
		a.st = st
		a.events = make(chan store.AuditEvent, 4096)
		a.stop, a.done = make(chan struct{}), make(chan struct{})
		go a.run()
	})
}

func (a *auditLog) record(st store.Store, e *store.AuditEvent) {
	if e == nil || e.Org == "" {
		return
	}
	a.start(st)
	select {
	case a.events <- *e:
	default: // the log is saturated: never block a request on it
	}
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
	batch := make([]store.AuditEvent, 0, 256)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		_ = a.st.RecordAudit(context.Background(), batch)
		batch = batch[:0]
	}
	add := func(e store.AuditEvent) {
		batch = append(batch, e)
		if len(batch) == cap(batch) {
			flush()
		}
	}
	for {
		select {
		case e := <-a.events:
			add(e)
		case <-tick.C:
			flush()
		case <-a.stop:
			for { // record what is still queued, then end
				select {
				case e := <-a.events:
					add(e)
				default:
					flush()
					return
				}
			}
		}
	}
}

func equalValues(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func actionName(kind store.Kind, verb string) string {
	return strings.ToLower(string(kind)) + "." + verb
}
