package service

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/events"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Events API bounds.
const (
	// MaxEventWait is the longest a request waits for a new event.
	MaxEventWait = 30 * time.Second
	// MaxEventPage is the most events one page holds.
	MaxEventPage = 500
	// eventPoll is how often a waiting request looks again: new events may come from any replica.
	eventPoll = 500 * time.Millisecond
	// Waiting requests hold a goroutine and poll the store: at most this many at once per
	// organization, per namespace (a tenant with many organizations) and in all; beyond, a
	// request answers at once, as without wait.
	maxWaitersPerOrg       = 16
	maxWaitersPerNamespace = 64
	maxWaiters             = 512
)

// EventPage is a page of the Events API: events in sequence order, and the cursor after them.
type EventPage struct {
	Items []events.Event `json:"items"`
	// Next is the sequence number to pass as after for the next page (the same when empty).
	Next int64 `json:"next"`
}

// Events reads the organization's events after a sequence number; with wait, it waits up to
// that long (at most MaxEventWait) for one to arrive.
func (s *Service) Events(ctx context.Context, org *tenant.Organization, after int64, limit int, wait time.Duration) (*EventPage, error) {
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, MaxEventPage)
	deadline := time.Now().Add(min(wait, MaxEventWait))
	permissions := memoized(s.rolePermissions(ctx, org.Integration.Namespace))
	waiting := false
	defer func() {
		if waiting {
			s.waiters.release(org.Name, org.Integration.Namespace)
		}
	}()
	for {
		records, err := s.pageOfEvents(ctx, org, after, limit)
		if err != nil {
			return nil, err
		}
		if len(records) > 0 || !time.Now().Before(deadline) || (!waiting && !s.waiters.acquire(org.Name, org.Integration.Namespace)) {
			page := &EventPage{Items: make([]events.Event, 0, len(records)), Next: after}
			size := 0
			for _, r := range records {
				// The store cut the page at 1 MiB of snapshots; each member event also carries
				// its role's permissions (up to 256 of 128 bytes), added here: the page stops
				// at 2 MiB of both, so a role of many permissions cannot make it 17 MB.
				if size += r.DataSize + permissionBytes(r, permissions); len(page.Items) > 0 && size > maxEventPageBytes {
					break
				}
				page.Items = append(page.Items, events.Wire(org.Name, r, permissions))
				page.Next = r.Seq
			}
			return page, nil
		}
		waiting = true
		select {
		case <-ctx.Done():
			return &EventPage{Items: []events.Event{}, Next: after}, nil
		case <-time.After(min(eventPoll, time.Until(deadline))):
		}
	}
}

// maxEventPageBytes bounds a page of the Events API by its snapshots and permissions.
const maxEventPageBytes = 2 << 20

// Event reads take turns of their own (read_guard.go), apart from the heavy reads but as few: with
// them they hold at most six of the store's connections (eight on a 2-CPU node), whatever the
// number of long polls, and the SCIM traffic keeps the rest. A read takes milliseconds.
const (
	maxEventReads             = 2
	maxEventReadsPerNamespace = 1
)

// pageOfEvents reads a page of the store's events in its turn.
func (s *Service) pageOfEvents(ctx context.Context, org *tenant.Organization, after int64, limit int) ([]store.EventRecord, error) {
	s.eventReadsOnce.Do(func() { s.eventReads.inAll, s.eventReads.perNamespace = maxEventReads, maxEventReadsPerNamespace })
	if err := s.eventReads.start(ctx, org.Integration.Namespace); err != nil {
		return nil, err
	}
	defer s.eventReads.done(org.Integration.Namespace)
	records, err := s.Store.Events(ctx, org.Name, after, limit)
	if err != nil {
		return nil, s.internal(err)
	}
	return records, nil
}

// permissionBytes is about what an event's role permissions add to its JSON.
func permissionBytes(r store.EventRecord, permissions events.Permissions) int {
	m := r.Data.Member
	if m == nil || m.Role == "" {
		return 0
	}
	n := 0
	for _, p := range permissions(m.Role) {
		n += len(p) + 3
	}
	return n
}

// memoized reads each role's permissions once per request: a page of 500 events of one role
// would otherwise copy its RoleTemplate from the cache 500 times.
func memoized(permissions events.Permissions) events.Permissions {
	seen := map[string][]string{}
	return func(role string) []string {
		if p, ok := seen[role]; ok {
			return p
		}
		p := permissions(role)
		seen[role] = p
		return p
	}
}

// rolePermissions reads role permissions from the RoleTemplates of a namespace (the cache).
func (s *Service) rolePermissions(ctx context.Context, namespace string) events.Permissions {
	return func(role string) []string {
		rt := &v1alpha1.RoleTemplate{}
		if err := s.Client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: role}, rt); err != nil {
			return nil
		}
		return rt.Spec.Permissions
	}
}

// subscription finds an EventSubscription that covers the organization (same namespace, and
// the organization among spec.organizations when it names any).
func (s *Service) subscription(ctx context.Context, org *tenant.Organization, name string) (*v1alpha1.EventSubscription, error) {
	sub := &v1alpha1.EventSubscription{}
	err := s.Client.Get(ctx, types.NamespacedName{Namespace: org.Integration.Namespace, Name: name}, sub)
	if err != nil || (len(sub.Spec.Organizations) > 0 && !slices.Contains(sub.Spec.Organizations, org.Name)) {
		return nil, Refuse(http.StatusNotFound, "No EventSubscription %q delivers the events of organization %s", name, org.Name)
	}
	return sub, nil
}

// Subscriptions lists the EventSubscriptions that deliver the organization's events, with their
// status (delivery health as the controller reports it).
func (s *Service) Subscriptions(ctx context.Context, org *tenant.Organization) ([]v1alpha1.EventSubscription, error) {
	list := &v1alpha1.EventSubscriptionList{}
	if err := s.Client.List(ctx, list, client.InNamespace(org.Integration.Namespace)); err != nil {
		return nil, s.internal(err)
	}
	out := make([]v1alpha1.EventSubscription, 0, len(list.Items))
	for _, sub := range list.Items {
		if len(sub.Spec.Organizations) == 0 || slices.Contains(sub.Spec.Organizations, org.Name) {
			out = append(out, sub)
		}
	}
	slices.SortFunc(out, func(a, b v1alpha1.EventSubscription) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// DeadLetters lists the events a subscription gave up on for the organization.
func (s *Service) DeadLetters(ctx context.Context, org *tenant.Organization, name string) ([]store.DeadLetter, error) {
	sub, err := s.subscription(ctx, org, name)
	if err != nil {
		return nil, err
	}
	letters, err := s.Store.DeadLetters(ctx, string(sub.UID), org.Name, 1000)
	if err != nil {
		return nil, s.internal(err)
	}
	if letters == nil {
		letters = []store.DeadLetter{}
	}
	return letters, nil
}

// Replay delivers a subscription's dead letters again, from the oldest on (receivers deduplicate
// the events after it by id).
func (s *Service) Replay(ctx context.Context, org *tenant.Organization, who Actor, name string) (int, error) {
	sub, err := s.subscription(ctx, org, name)
	if err != nil {
		return 0, err
	}
	n, err := s.Store.Replay(ctx, string(sub.UID), org.Name)
	if err != nil {
		return 0, s.internal(err)
	}
	s.auditAdmin(ctx, org, who, "events.replay", fmt.Sprintf("Replaying %d dead-lettered events to EventSubscription %s", n, name))
	return n, nil
}

// eventWaiters bounds the requests waiting for events.
type eventWaiters struct {
	mu          sync.Mutex
	total       int
	byOrg       map[string]int
	byNamespace map[string]int
}

func (w *eventWaiters) acquire(org, namespace string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.byOrg == nil {
		w.byOrg, w.byNamespace = map[string]int{}, map[string]int{}
	}
	if w.total >= maxWaiters || w.byOrg[org] >= maxWaitersPerOrg || w.byNamespace[namespace] >= maxWaitersPerNamespace {
		return false
	}
	w.total++
	w.byOrg[org]++
	w.byNamespace[namespace]++
	return true
}

func (w *eventWaiters) release(org, namespace string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.total--
	if w.byOrg[org]--; w.byOrg[org] <= 0 {
		delete(w.byOrg, org)
	}
	if w.byNamespace[namespace]--; w.byNamespace[namespace] <= 0 {
		delete(w.byNamespace, namespace)
	}
}
