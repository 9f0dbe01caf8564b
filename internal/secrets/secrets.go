// Package secrets keeps the operator's footprint on the cluster's Secrets (and Services and
// Ingresses) small. The manager's cache holds only the ones the operator manages (selected by
// label), and of those only what it reads, bounded (trim.go); the Secrets tenants
// reference (OIDC client secrets, bring-your-own tokens) are read from the API server when
// needed, and their changes are noticed through a metadata watch that keeps nothing: no data,
// labels or annotations (kubectl's last-applied annotation can hold a Secret's data) of any other
// Secret, not even its name, is held in memory. Of the operator's custom resources, which
// namespace admins write, the cache leaves out the metadata the operator does not read
// (resources.go).
package secrets

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// ManagedByLabel and ManagedByValue mark the Secrets the operator creates (token Secrets), and
// OrganizationLabel names their organization.
const (
	ManagedByLabel    = "app.kubernetes.io/managed-by"
	ManagedByValue    = "enterprise-identity-operator"
	OrganizationLabel = "enterprise.z8z8.io/organization"
)

// CacheOptions restricts the manager's cache of Secrets, Services and Ingresses to those the
// operator manages (selected by label), and keeps of each only what the operator reads (trim.go).
// The Services and Ingresses are each integration's routing: the cluster's others, tens of
// thousands in a large cluster, are never held. Of the custom resources namespace admins write,
// it keeps the spec, status and the metadata the operator reads (resources.go).
func CacheOptions() cache.Options {
	managed := labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}:        {Label: managed, Transform: trimSecret},
			&corev1.Service{}:       {Label: managed, Transform: trimService},
			&networkingv1.Ingress{}: {Label: managed, Transform: trimIngress},

			&v1alpha1.EnterpriseIdentity{}: {Transform: trimResource},
			&v1alpha1.ScimIntegration{}:    {Transform: trimResource},
			&v1alpha1.EventSubscription{}:  {Transform: trimResource},
			&v1alpha1.RoleTemplate{}:       {Transform: trimResource},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// Names tells controllers that a Secret changed, by namespace and name, and holds no Secret in
// memory: a metadata-only watch whose store forwards each event to the subscribed controllers and
// keeps nothing. So the manager's memory does not grow with the cluster's Secrets; a controller
// that learns that a referenced Secret changed reads it from the API server.
type Names struct {
	metadata metadata.Interface

	mu   sync.Mutex
	subs []chan event.TypedGenericEvent[*metav1.PartialObjectMetadata]
}

// NewNames builds the watch; add it to the manager (mgr.Add) to start it.
func NewNames(cfg *rest.Config) (*Names, error) {
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("creating the Secret names watch: %w", err)
	}
	return &Names{metadata: mc}, nil
}

// NeedLeaderElection is false: every replica's data plane follows Secrets.
func (n *Names) NeedLeaderElection() bool { return false }

// Start watches Secret metadata until ctx ends, relisting as the API server requires.
func (n *Names) Start(ctx context.Context) error {
	secrets := n.metadata.Resource(corev1.SchemeGroupVersion.WithResource("secrets"))
	lw := &toolscache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return secrets.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			return secrets.Watch(ctx, o)
		},
	}
	r := toolscache.NewReflectorWithOptions(lw, &metav1.PartialObjectMetadata{}, &forwarder{ctx: ctx, names: n},
		toolscache.ReflectorOptions{Name: "secret-names"})
	r.RunWithContext(ctx)
	return nil
}

// Source watches Secret names, mapping each change to the requests fn returns. Without a names
// watch (nil) it watches nothing: tests that do not exercise referenced Secrets. The source
// subscribes when its controller starts it, and leaves when the controller stops: a controller
// that runs only on the leader never starts on the other replicas, and a channel nobody drains
// would fill and stop the watch for every subscriber there (the data plane's among them).
func (n *Names) Source(fn func(ctx context.Context, namespace, name string) []reconcile.Request) source.TypedSource[reconcile.Request] {
	return &namesSource{names: n, fn: fn}
}

type namesSource struct {
	names *Names
	fn    func(ctx context.Context, namespace, name string) []reconcile.Request
}

// Start subscribes a channel drained into the controller's queue until ctx ends. Changes before
// it are not needed: a starting controller reconciles every object it watches.
func (s *namesSource) Start(ctx context.Context, queue workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	ch := make(chan event.TypedGenericEvent[*metav1.PartialObjectMetadata], 1024)
	drain := source.TypedChannel(ch, handler.TypedEnqueueRequestsFromMapFunc(
		func(ctx context.Context, m *metav1.PartialObjectMetadata) []reconcile.Request {
			return s.fn(ctx, m.Namespace, m.Name)
		}))
	if err := drain.Start(ctx, queue); err != nil {
		return err
	}
	s.names.subscribe(ch)
	context.AfterFunc(ctx, func() { s.names.unsubscribe(ch) })
	return nil
}

func (n *Names) subscribe(ch chan event.TypedGenericEvent[*metav1.PartialObjectMetadata]) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subs = append(slices.Clone(n.subs), ch) // forward reads a snapshot without the lock
}

func (n *Names) unsubscribe(ch chan event.TypedGenericEvent[*metav1.PartialObjectMetadata]) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.subs = slices.DeleteFunc(slices.Clone(n.subs), func(c chan event.TypedGenericEvent[*metav1.PartialObjectMetadata]) bool { return c == ch })
}

// forwarder is the reflector's store: it passes each Secret's namespace and name on and keeps
// nothing (a relist passes every Secret on again, so no change is missed across it).
type forwarder struct {
	ctx   context.Context
	names *Names
}

func (f *forwarder) Add(obj any) error    { f.forward(obj); return nil }
func (f *forwarder) Update(obj any) error { f.forward(obj); return nil }
func (f *forwarder) Delete(obj any) error { f.forward(obj); return nil }
func (f *forwarder) Resync() error        { return nil }

func (f *forwarder) Replace(list []any, _ string) error {
	for _, obj := range list {
		f.forward(obj)
	}
	return nil
}

func (f *forwarder) forward(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	e := event.TypedGenericEvent[*metav1.PartialObjectMetadata]{Object: &metav1.PartialObjectMetadata{
		ObjectMeta: metav1.ObjectMeta{Namespace: m.Namespace, Name: m.Name}}}
	f.names.mu.Lock()
	subs := f.names.subs
	f.names.mu.Unlock()
	for _, ch := range subs {
		select {
		case ch <- e:
		case <-f.ctx.Done():
			return
		}
	}
}

// Setup builds the names watch and adds it to the manager.
func Setup(mgr ctrl.Manager) (*Names, error) {
	names, err := NewNames(mgr.GetConfig())
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(names); err != nil {
		return nil, err
	}
	return names, nil
}
