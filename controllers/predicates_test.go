package controllers

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// What wakes a controller about its own kind: everything but a write of status alone.
func TestNotStatusOnly(t *testing.T) {
	base := func() *v1alpha1.ScimIntegration {
		return &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Name: "acme", Namespace: "acme", Generation: 1,
			ResourceVersion: "1", Finalizers: []string{v1alpha1.FinalizerSCIMData}}}
	}
	now := metav1.Now()
	cases := map[string]struct {
		change func(*v1alpha1.ScimIntegration)
		wakes  bool
	}{
		"a status write (the controller's own) does not wake it": {func(s *v1alpha1.ScimIntegration) {
			s.Status.Organization = "acme"
			s.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
		}, false},
		"a spec change (new generation) wakes it": {func(s *v1alpha1.ScimIntegration) { s.Generation = 2 }, true},
		"the rotate-token annotation wakes it": {func(s *v1alpha1.ScimIntegration) {
			s.Annotations = map[string]string{v1alpha1.AnnotationRotateToken: "1"}
		}, true},
		"a label change wakes it":                      {func(s *v1alpha1.ScimIntegration) { s.Labels = map[string]string{"team": "a"} }, true},
		"a finalizer removed by someone else wakes it": {func(s *v1alpha1.ScimIntegration) { s.Finalizers = nil }, true},
		"deletion (a deletion timestamp) wakes it":     {func(s *v1alpha1.ScimIntegration) { s.DeletionTimestamp = &now }, true},
	}
	p := notStatusOnly()
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			old, changed := base(), base()
			changed.ResourceVersion = "2"
			c.change(changed)
			if got := p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: changed}); got != c.wakes {
				t.Fatalf("wakes = %v, want %v", got, c.wakes)
			}
		})
	}
	if !p.Create(event.CreateEvent{Object: base()}) || !p.Delete(event.DeleteEvent{Object: base()}) {
		t.Fatal("creations and deletions must wake the controller")
	}
}
