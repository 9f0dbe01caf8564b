package controllers

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// setCondition records a condition for the object's current generation.
func setCondition(conds *[]metav1.Condition, generation int64, typ string, ok bool, reason, message string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(conds, metav1.Condition{
		Type:               typ,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: generation,
	})
}

// summarizeReady sets Ready from the given conditions: True when all are True, otherwise False
// with the reason and message of the first that is not.
func summarizeReady(conds *[]metav1.Condition, generation int64, types ...string) {
	for _, t := range types {
		c := meta.FindStatusCondition(*conds, t)
		if c == nil {
			setCondition(conds, generation, v1alpha1.ConditionReady, false, v1alpha1.ReasonReconciling, t+" has not been evaluated yet")
			return
		}
		if c.Status != metav1.ConditionTrue {
			setCondition(conds, generation, v1alpha1.ConditionReady, false, c.Reason, c.Message)
			return
		}
	}
	setCondition(conds, generation, v1alpha1.ConditionReady, true, v1alpha1.ReasonReady, "Ready")
}

// keepTransitionTimes gives each condition that ends a pass with the status it began with its
// lastTransitionTime from before the pass. Steps may set a condition twice in one pass (SSOReady
// True, then False for a conflict); without this each such pass would stamp a new transition
// time, write status, and never rest.
func keepTransitionTimes(before, after []metav1.Condition) {
	for i := range after {
		if b := meta.FindStatusCondition(before, after[i].Type); b != nil && b.Status == after[i].Status {
			after[i].LastTransitionTime = b.LastTransitionTime
		}
	}
}
