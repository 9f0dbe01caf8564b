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

// idleSummaryInterval is how often an organization whose store saw nothing new is looked at.
const idleSummaryInterval = 2 * time.Minute

// reconcileSummary reports members per state and the last request in status.provisioning, from
// store.Summarize (the computation the admin API and the wizard show too). An organization whose
// store has seen nothing since the last full summary is only requeued.
func (r *ScimIntegrationReconciler) reconcileSummary(ctx context.Context, s *scimScope) error {
	if r.Data == nil {
		return nil
	}
	org := s.identity.Spec.Organization
	now := r.Clock.Now()
	activity, err := r.Data.ActivityMark(ctx, org)
	if err != nil {
		return err
	}
	if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionErrorBurst, v1alpha1.ReasonManyErrors) &&
		r.summaries.fresh(s.scim.UID, activity, s.scim.Generation, now) {
		// Idle: look less often. A generated token's use wakes the integration anyway (the
		// token Secret's last-used annotation), and the admin API and wizard read the store live.
		s.requeue.in(idleSummaryInterval)
		return nil
	}
	sum, err := store.Summarize(ctx, r.Data, org)
	if err != nil {
		return err
	}
	key := client.ObjectKeyFromObject(s.scim)
	r.Metrics.setMembers(org, key, sum.Members)
	r.Metrics.setHeld(org, key, sum.Held)
	summary := provisioningStatus(sum)
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
	r.reportHeld(s, org, sum.Held)
	r.summaries.record(s.scim.UID, activity, s.scim.Generation, now)
	return nil
}

// provisioningStatus is a summary as status shows it (to the second, so status does not churn).
func provisioningStatus(sum *store.Summary) *v1alpha1.ProvisioningStatus {
	out := &v1alpha1.ProvisioningStatus{Members: sum.Members, Groups: sum.Groups}
	if len(sum.Members) == 0 {
		out.Members = nil
	}
	if e := sum.LastRequest; e != nil {
		out.LastRequestAt = &metav1.Time{Time: e.Time.Truncate(time.Second)}
		out.LastClient = e.Client
	}
	if sum.LastSuccessAt != nil {
		out.LastSuccessAt = &metav1.Time{Time: sum.LastSuccessAt.Truncate(time.Second)}
	}
	if e := sum.LastError; e != nil {
		out.LastError = &v1alpha1.ProvisioningError{Time: metav1.Time{Time: e.Time.Truncate(time.Second)},
			Status: int32(e.Status), ScimType: e.ScimType, Detail: e.Detail} //nolint:gosec // an HTTP status
	}
	return out
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
		s.setCondition(v1alpha1.ConditionErrorBurst, false, v1alpha1.ReasonFewErrors,
			fmt.Sprintf("Fewer than %d failed requests in %s", errorBurstThreshold, errorBurstWindow))
		return nil
	}
	message := fmt.Sprintf("At least %d requests failed in the last %s; the latest: %d %s", errorBurstThreshold, errorBurstWindow,
		failed[0].Status, failed[0].Detail)
	if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionErrorBurst, v1alpha1.ReasonManyErrors) {
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventErrorBurst, actionReconcile, "%s", message)
	}
	s.setCondition(v1alpha1.ConditionErrorBurst, true, v1alpha1.ReasonManyErrors, message)
	return nil
}

// reportHeld sets DeprovisioningHeld from the summary, with a Warning event when holding starts.
func (r *ScimIntegrationReconciler) reportHeld(s *scimScope, org string, held int64) {
	s.requeue.in(summaryInterval)
	if held == 0 {
		s.setCondition(v1alpha1.ConditionDeprovisioningHeld, false, v1alpha1.ReasonNotHeld, "No deprovisioning is held")
		return
	}
	message := fmt.Sprintf("%d deprovisionings are held by provisioning.deprovision.maxPerHour; check the identity provider, then "+
		"release them with POST /api/v1alpha1/organizations/%s/deprovisioning/release", held, org)
	if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionDeprovisioningHeld, v1alpha1.ReasonHeld) {
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventDeprovisioningHeld, actionReconcile, "%s", message)
	}
	s.setCondition(v1alpha1.ConditionDeprovisioningHeld, true, v1alpha1.ReasonHeld, message)
}
