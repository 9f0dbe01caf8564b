package controllers

import (
	"maps"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// notStatusOnly drops the update events of a controller's own kind that change nothing but
// status. A controller's status write would otherwise wake its next pass, which with many
// objects never ends: the write of one pass is the event of the next. Creations and deletions
// still pass, and so does every change a reconciler reads from metadata: the
// spec (generation), annotations (enterprise.z8z8.io/rotate-token), labels, finalizers and the
// deletion timestamp. The manager's cache keeps of the kinds tenants write only the operator's
// annotation and finalizers, and no labels (secrets.CacheOptions), so a change of others wakes
// nothing. A status changed by someone else is put right on the object's next pass (the SSO
// recheck, the ScimIntegration summary refresh), not at once.
func notStatusOnly() predicate.Predicate {
	return predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		o, n := e.ObjectOld, e.ObjectNew
		if o == nil || n == nil {
			return true
		}
		return o.GetGeneration() != n.GetGeneration() ||
			!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) ||
			!maps.Equal(o.GetLabels(), n.GetLabels()) ||
			!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
			!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp())
	}}
}
