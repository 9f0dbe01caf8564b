package controllers

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer and removeFinalizer patch metadata.finalizers alone, with the object's
// resourceVersion as a lock. An Update of the whole typed object would also write the spec as
// the operator decodes it (empty structs a GitOps tool never set, for example), moving
// metadata.generation and taking fields from their manager: the operator writes status only.
//
// A merge patch replaces the whole list, so it is built from the finalizers the API server
// holds, read through live (uncached): the manager's cache keeps only the operator's own
// finalizers of the kinds tenants write (secrets.CacheOptions), and a list built from the cached
// copy would remove every other controller's. live may be nil only for a kind the cache keeps
// whole (the OrganizationClaim); obj is then taken as it is.
func addFinalizer(ctx context.Context, c client.Client, live client.Reader, obj client.Object, finalizer string) (bool, error) {
	if controllerutil.ContainsFinalizer(obj, finalizer) {
		return false, nil
	}
	return patchFinalizers(ctx, c, live, obj, func(o client.Object) bool { return controllerutil.AddFinalizer(o, finalizer) })
}

func removeFinalizer(ctx context.Context, c client.Client, live client.Reader, obj client.Object, finalizer string) error {
	if !controllerutil.ContainsFinalizer(obj, finalizer) {
		return nil
	}
	_, err := patchFinalizers(ctx, c, live, obj, func(o client.Object) bool { return controllerutil.RemoveFinalizer(o, finalizer) })
	return client.IgnoreNotFound(err)
}

// patchFinalizers applies change to the object's finalizers as the API server holds them, and
// to obj, and says whether it changed anything.
func patchFinalizers(ctx context.Context, c client.Client, live client.Reader, obj client.Object, change func(client.Object) bool) (bool, error) {
	current := obj
	if live != nil {
		gvk, err := apiutil.GVKForObject(obj, c.Scheme())
		if err != nil {
			return false, err
		}
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(gvk)
		if err := live.Get(ctx, client.ObjectKeyFromObject(obj), m); err != nil {
			return false, fmt.Errorf("reading the finalizers of %s %s: %w", gvk.Kind, client.ObjectKeyFromObject(obj), err)
		}
		current = m
	}
	original := current.DeepCopyObject().(client.Object)
	if !change(current) {
		return false, nil
	}
	if err := c.Patch(ctx, current, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
		return false, err
	}
	if current != obj {
		change(obj)
		obj.SetResourceVersion(current.GetResourceVersion())
	}
	return true, nil
}
