package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Events pruned before delivery make a subscription Degraded for a day (reason EventsLost), after
// failing deliveries and dead letters, which say more about what to do.
func TestLostEventsDegradeASubscriptionForADay(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	status := &v1alpha1.DeliveryStatus{}
	var oldest time.Time
	addDelivery(status, &store.Delivery{DeliveredSeq: 9, LatestSeq: 9, Lost: 2, LostAt: now.Add(-time.Hour)}, &oldest)
	addDelivery(status, &store.Delivery{DeliveredSeq: 3, LatestSeq: 5, Lost: 3, LostAt: now.Add(-30 * time.Hour)}, &oldest)
	if status.Lost != 5 || status.LastLostAt == nil || !status.LastLostAt.Time.Equal(now.Add(-time.Hour)) || status.Pending != 2 {
		t.Fatalf("summed status: %+v", status)
	}
	cases := []struct {
		name       string
		change     func(*v1alpha1.DeliveryStatus)
		wantReason string
	}{
		{"events lost an hour ago", func(*v1alpha1.DeliveryStatus) {}, v1alpha1.ReasonEventsLost},
		{"events lost two days ago", func(s *v1alpha1.DeliveryStatus) { s.LastLostAt = &metav1.Time{Time: now.Add(-48 * time.Hour)} },
			v1alpha1.ReasonDelivering},
		{"dead letters come first", func(s *v1alpha1.DeliveryStatus) { s.DeadLettered = 1 }, v1alpha1.ReasonDeadLettered},
		{"failing deliveries come first", func(s *v1alpha1.DeliveryStatus) { s.ConsecutiveFailures = degradedAfter }, v1alpha1.ReasonDeliveryFailing},
	}
	for _, c := range cases {
		s := *status
		c.change(&s)
		degraded, reason, _, _ := degradation(&s, now)
		if reason != c.wantReason || degraded != (c.wantReason != v1alpha1.ReasonDelivering) {
			t.Errorf("%s: degraded %v, reason %s, want %s", c.name, degraded, reason, c.wantReason)
		}
	}
}
