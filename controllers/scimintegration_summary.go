package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// summaryInterval is how often the provisioning summary in status is refreshed: often enough to
// follow an IdP's test, rarely enough that a busy IdP causes no status write storm.
const summaryInterval = 30 * time.Second

// reconcileSummary reports members per state and the last request in status.provisioning.
func (r *ScimIntegrationReconciler) reconcileSummary(ctx context.Context, s *scimScope) error {
	if r.Data == nil {
		return nil
	}
	org := s.identity.Spec.Organization
	counts, err := r.Data.MemberCounts(ctx, org)
	if err != nil {
		return fmt.Errorf("counting members of %s: %w", org, err)
	}
	r.Metrics.setMembers(org, client.ObjectKeyFromObject(s.scim), counts)
	summary := &v1alpha1.ProvisioningStatus{Members: counts}
	if len(counts) == 0 {
		summary.Members = nil
	}
	last, err := r.Data.AuditEvents(ctx, org, store.AuditQuery{Limit: 1, SCIMRequests: true})
	if err != nil {
		return fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	if len(last) > 0 {
		summary.LastRequestAt = &metav1.Time{Time: last[0].Time.Truncate(time.Second)}
		summary.LastClient = last[0].Client
	}
	if ok, err := r.Data.AuditEvents(ctx, org, store.AuditQuery{Limit: 1, Succeeded: true, SCIMRequests: true}); err != nil {
		return fmt.Errorf("reading the audit log of %s: %w", org, err)
	} else if len(ok) > 0 {
		summary.LastSuccessAt = &metav1.Time{Time: ok[0].Time.Truncate(time.Second)}
	}
	groups, err := r.Data.List(ctx, org, store.KindGroup, store.Query{Count: 0})
	if err != nil {
		return fmt.Errorf("counting groups of %s: %w", org, err)
	}
	summary.Groups = int64(groups.Total)
	failed, err := r.Data.AuditEvents(ctx, org, store.AuditQuery{Limit: 1, Failed: true, SCIMRequests: true})
	if err != nil {
		return fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	if len(failed) > 0 {
		e := failed[0]
		summary.LastError = &v1alpha1.ProvisioningError{Time: metav1.Time{Time: e.Time.Truncate(time.Second)},
			Status: int32(e.Status), ScimType: e.ScimType, Detail: e.Detail} //nolint:gosec // an HTTP status
	}
	if prev := s.scim.Status.Provisioning; prev != nil && prev.ConnectionVerifiedAt != nil {
		summary.ConnectionVerifiedAt = prev.ConnectionVerifiedAt
	} else if summary.LastRequestAt != nil {
		summary.ConnectionVerifiedAt = summary.LastRequestAt
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeNormal, EventIdPConnected, actionReconcile,
			"The identity provider reached the SCIM endpoint of organization %s for the first time", org)
	}
	if summary.Members != nil || summary.LastRequestAt != nil || summary.Groups > 0 {
		if !equality.Semantic.DeepEqual(s.scim.Status.Provisioning, summary) {
			s.scim.Status.Provisioning = summary
		}
	}
	if err := r.reportErrorBurst(ctx, s, org); err != nil {
		return err
	}
	return r.reportHeld(ctx, s, org)
}

// Error bursts: this many refused or failed requests within the window.
const (
	errorBurstThreshold = 20
	errorBurstWindow    = 5 * time.Minute
)

// reportErrorBurst sets ErrorBurst, with a Warning event when a burst starts.
func (r *ScimIntegrationReconciler) reportErrorBurst(ctx context.Context, s *scimScope, org string) error {
	failed, err := r.Data.AuditEvents(ctx, org, store.AuditQuery{Failed: true, SCIMRequests: true,
		Since: r.Clock.Now().Add(-errorBurstWindow), Limit: errorBurstThreshold})
	if err != nil {
		return fmt.Errorf("reading the audit log of %s: %w", org, err)
	}
	// An aggregated refusal row stands for Count requests (one source's refusals in a minute).
	n := 0
	for _, e := range failed {
		n += max(e.Count, 1)
	}
	if n < errorBurstThreshold {
		s.setCondition(v1alpha1.ConditionErrorBurst, false, "Normal", fmt.Sprintf("Fewer than %d failed requests in %s", errorBurstThreshold, errorBurstWindow))
		return nil
	}
	message := fmt.Sprintf("At least %d requests failed in the last %s; the latest: %d %s", errorBurstThreshold, errorBurstWindow,
		failed[0].Status, failed[0].Detail)
	if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionErrorBurst, "ManyErrors") {
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventErrorBurst, actionReconcile, "%s", message)
	}
	s.setCondition(v1alpha1.ConditionErrorBurst, true, "ManyErrors", message)
	return nil
}

// reportHeld sets DeprovisioningHeld from the store, with a Warning event when holding starts.
func (r *ScimIntegrationReconciler) reportHeld(ctx context.Context, s *scimScope, org string) error {
	s.requeue.in(summaryInterval)
	held, err := r.Data.HeldDeprovisions(ctx, org)
	if err != nil {
		return fmt.Errorf("counting held deprovisionings of %s: %w", org, err)
	}
	r.Metrics.setHeld(org, client.ObjectKeyFromObject(s.scim), held)
	if held == 0 {
		s.setCondition(v1alpha1.ConditionDeprovisioningHeld, false, "NotHeld", "No deprovisioning is held")
		return nil
	}
	message := fmt.Sprintf("%d deprovisionings are held by provisioning.deprovision.maxPerHour; check the identity provider, then "+
		"release them with POST /api/v1alpha1/organizations/%s/deprovisioning/release", held, org)
	if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionDeprovisioningHeld, "Held") {
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventDeprovisioningHeld, actionReconcile, "%s", message)
	}
	s.setCondition(v1alpha1.ConditionDeprovisioningHeld, true, "Held", message)
	return nil
}
