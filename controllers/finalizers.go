package controllers

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

// addFinalizer and removeFinalizer patch metadata.finalizers alone, with the object's
// resourceVersion as a lock. An Update of the whole typed object would also write the spec as
// the operator decodes it (empty structs a GitOps tool never set, for example), moving
// metadata.generation and taking fields from their manager: the operator writes status only.
func addFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) (bool, error) {
	original := obj.DeepCopyObject().(client.Object)
	if !controllerutil.AddFinalizer(obj, finalizer) {
		return false, nil
	}
	return true, c.Patch(ctx, obj, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
}

func removeFinalizer(ctx context.Context, c client.Client, obj client.Object, finalizer string) error {
	original := obj.DeepCopyObject().(client.Object)
	if !controllerutil.RemoveFinalizer(obj, finalizer) {
		return nil
	}
	return client.IgnoreNotFound(c.Patch(ctx, obj, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})))
}
