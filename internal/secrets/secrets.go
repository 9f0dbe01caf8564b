// Package secrets keeps the operator's footprint on the cluster's Secrets small. The manager's
// cache holds only the Secrets the operator manages (selected by label); the Secrets tenants
// reference (OIDC client secrets, bring-your-own tokens) are read from the API server when
// needed, and their changes are noticed through a cache of names only: no data, labels or
// annotations (kubectl's last-applied annotation can hold a Secret's data) of any other Secret
// is ever held in memory.
package secrets

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// ManagedByLabel and ManagedByValue mark the Secrets the operator creates (token Secrets).
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "enterprise-identity-operator"
)

// CacheOptions restricts the manager's cache of Secrets to those the operator manages, and
// strips managed fields from everything it caches.
func CacheOptions() cache.Options {
	return cache.Options{
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	}
}

// Names is a cache of every Secret's namespace, name and UID, and nothing else. Controllers
// watch it to learn that a referenced Secret changed, then read that Secret from the API server.
type Names struct{ cache.Cache }

// NewNames builds the names-only cache; add it to the manager (mgr.Add) to start it.
func NewNames(cfg *rest.Config, scheme *runtime.Scheme) (*Names, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultTransform: namesOnly})
	if err != nil {
		return nil, fmt.Errorf("creating the Secret names cache: %w", err)
	}
	return &Names{Cache: c}, nil
}

// namesOnly keeps what identifies a Secret and drops the rest before it is cached.
func namesOnly(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion,
	}}, nil
}

// Source watches Secret names, mapping each change to the requests fn returns. Without a names
// cache (nil) it watches nothing: tests that do not exercise referenced Secrets.
func (n *Names) Source(fn func(ctx context.Context, namespace, name string) []reconcile.Request) source.TypedSource[reconcile.Request] {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	return source.Kind(n.Cache, obj, handler.TypedEnqueueRequestsFromMapFunc(
		func(ctx context.Context, m *metav1.PartialObjectMetadata) []reconcile.Request {
			return fn(ctx, m.Namespace, m.Name)
		}))
}

// Setup builds the names cache and adds it to the manager.
func Setup(mgr ctrl.Manager) (*Names, error) {
	names, err := NewNames(mgr.GetConfig(), mgr.GetScheme())
	if err != nil {
		return nil, err
	}
	if err := mgr.Add(names.Cache); err != nil {
		return nil, err
	}
	return names, nil
}
