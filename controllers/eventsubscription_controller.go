package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	eioevents "github.com/z8z8/enterprise-identity-operator/internal/events"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// EventDeliveries is what the EventSubscription controller needs from the store.
type EventDeliveries interface {
	Delivery(ctx context.Context, subscription, org string, from time.Time) (*store.Delivery, error)
	ForgetSubscription(ctx context.Context, subscription string) error
}

// EventSubscriptionReconciler keeps an EventSubscription's signing key and reports how its
// delivery goes; the delivery itself is internal/events.Deliverer's.
type EventSubscriptionReconciler struct {
	client.Client
	Recorder events.EventRecorder
	Clock    interface{ Now() time.Time }
	// APIReader reads brought signing keys, which the manager does not cache, through
	// BroughtKeys (shared with the deliverer; one of its own when nil). It also reads the
	// finalizers the controller patches, which the manager's cache keeps only its own of
	// (finalizers.go); nil takes them from the cached object, right only with a cache that keeps
	// them all.
	APIReader   client.Reader
	BroughtKeys *eioevents.BroughtKeys
	// Data is the store; nil when none is configured.
	Data EventDeliveries

	keysOnce sync.Once
}

const (
	schemeHTTP = "http"
	// deliveryStatusInterval is how often delivery figures in status are refreshed.
	deliveryStatusInterval = 30 * time.Second
	// degradedAfter is how many consecutive failures make a subscription Degraded.
	degradedAfter = 3
	// lostRecently is how long events pruned before delivery keep a subscription Degraded.
	lostRecently = 24 * time.Hour
	// Event reasons.
	EventDeliveryFailing = "EventDeliveryFailing"
	EventDeadLettered    = "EventsDeadLettered"
	EventEventsLost      = "EventsLost"
)

// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=eventsubscriptions,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=eventsubscriptions/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=enterprise.z8z8.io,resources=eventsubscriptions/finalizers,verbs=update

// Reconcile keeps the signing key and reports delivery.
func (r *EventSubscriptionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	sub := &v1alpha1.EventSubscription{}
	if err := r.Get(ctx, req.NamespacedName, sub); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !sub.DeletionTimestamp.IsZero() {
		if controllerutil.ContainsFinalizer(sub, v1alpha1.FinalizerEventDelivery) {
			if r.Data != nil {
				if err := r.Data.ForgetSubscription(ctx, string(sub.UID)); err != nil {
					return ctrl.Result{}, err
				}
			}
			return ctrl.Result{}, removeFinalizer(ctx, r.Client, r.APIReader, sub, v1alpha1.FinalizerEventDelivery)
		}
		return ctrl.Result{}, nil
	}
	if added, err := addFinalizer(ctx, r.Client, r.APIReader, sub, v1alpha1.FinalizerEventDelivery); err != nil || added {
		return ctrl.Result{}, err // the finalizer's update wakes the next pass
	}
	original := sub.DeepCopy()
	ready, reason, message := r.reconcileKey(ctx, sub)
	if ready {
		if u, err := url.Parse(sub.Spec.URL); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != schemeHTTP) {
			ready, reason, message = false, "InvalidURL", "spec.url must be an absolute http(s) URL"
		}
	}
	if ready && sub.Spec.Paused {
		ready, reason, message = false, v1alpha1.ReasonPaused, "Delivery is paused (spec.paused); events wait within the organizations' event retention"
	}
	if ready {
		// The URL's scheme and host only: its user information, path or query may hold a credential
		// the receiver asks for, and a condition is readable by whoever reads the subscription.
		reason, message = v1alpha1.ReasonDelivering, "Events of this namespace's organizations are delivered to "+outbound.Shown(sub.Spec.URL)
	}
	setCondition(&sub.Status.Conditions, sub.Generation, v1alpha1.ConditionReady, ready, reason, message)
	if err := r.reportDelivery(ctx, sub); err != nil {
		return ctrl.Result{}, err
	}
	sub.Status.ObservedGeneration = sub.Generation
	keepTransitionTimes(original.Status.Conditions, sub.Status.Conditions)
	if !equality.Semantic.DeepEqual(original.Status, sub.Status) {
		if err := r.Status().Patch(ctx, sub, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("updating status of EventSubscription %s/%s: %w", sub.Namespace, sub.Name, err)
		}
	}
	return ctrl.Result{RequeueAfter: deliveryStatusInterval}, nil
}

// reconcileKey generates the signing key Secret when the subscription brings none, and reports
// the key's fingerprint (never the key).
func (r *EventSubscriptionReconciler) reconcileKey(ctx context.Context, sub *v1alpha1.EventSubscription) (bool, string, string) {
	if sub.Spec.SigningKey == nil {
		name := v1alpha1.SigningKeySecretName(sub.Name)
		secret := &corev1.Secret{}
		err := r.Get(ctx, types.NamespacedName{Namespace: sub.Namespace, Name: name}, secret)
		switch {
		case apierrors.IsNotFound(err):
			if err := r.createKey(ctx, sub, name); err != nil {
				return false, v1alpha1.ReasonSigningKeyMissing, err.Error()
			}
		case err != nil:
			return false, v1alpha1.ReasonSigningKeyMissing, "Reading the signing key failed; retrying"
		case !metav1.IsControlledBy(secret, sub):
			return false, v1alpha1.ReasonSigningKeyMissing, fmt.Sprintf("Secret %s exists and is not this subscription's; name another with spec.signingKey", name)
		}
	}
	// A brought key comes from the reads the deliverer shares, once a minute per Secret however
	// many subscriptions name it, not from a read of the Secret per reconcile (every
	// deliveryStatusInterval, per subscription).
	keys, err := r.broughtKeys().SigningKeys(ctx, r.Client, sub)
	if err != nil {
		sub.Status.SigningKey = nil
		switch {
		case apierrors.IsNotFound(err):
			return false, v1alpha1.ReasonSigningKeyMissing, "The signing key's Secret does not exist"
		case errors.Is(err, eioevents.ErrSigningKeyNotOwned):
			return false, v1alpha1.ReasonSigningKeyMissing, fmt.Sprintf("Secret %s exists and is not this subscription's; name another with spec.signingKey",
				v1alpha1.SigningKeySecretName(sub.Name))
		case errors.Is(err, eioevents.ErrBadSigningKey):
			return false, v1alpha1.ReasonSigningKeyMissing, "The signing key is unusable: " + eioevents.ErrBadSigningKey.Error()
		}
		return false, v1alpha1.ReasonSigningKeyMissing, "Reading the signing key failed; retrying"
	}
	key := keys[0]
	secretName := v1alpha1.SigningKeySecretName(sub.Name)
	if sub.Spec.SigningKey != nil {
		secretName = sub.Spec.SigningKey.SecretRef.Name
	}
	sub.Status.SigningKey = &v1alpha1.SigningKeyStatus{SecretName: secretName, Fingerprint: eioevents.KeyFingerprint(key)}
	return true, "", ""
}

// broughtKeys is the shared cache of brought keys, or one of the reconciler's own.
func (r *EventSubscriptionReconciler) broughtKeys() *eioevents.BroughtKeys {
	r.keysOnce.Do(func() {
		if r.BroughtKeys == nil {
			reader := r.APIReader
			if reader == nil {
				reader = r.Client
			}
			r.BroughtKeys = &eioevents.BroughtKeys{Reader: reader}
		}
	})
	return r.BroughtKeys
}

// createKey writes a new signing key into a Secret the subscription owns (garbage-collected with it).
func (r *EventSubscriptionReconciler) createKey(ctx context.Context, sub *v1alpha1.EventSubscription, name string) error {
	key, err := eioevents.NewSigningKey()
	if err != nil {
		return err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: sub.Namespace, Labels: map[string]string{managedByLabel: managedByValue}},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{v1alpha1.SecretKeySigningKey: []byte(key)},
	}
	if err := controllerutil.SetControllerReference(sub, secret, r.Scheme()); err != nil {
		return err
	}
	if err := r.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("secret %s exists and is not this subscription's; name another with spec.signingKey", name)
		}
		return fmt.Errorf("creating the signing key Secret %s: %w", name, err)
	}
	r.Recorder.Eventf(sub, nil, corev1.EventTypeNormal, "SigningKeyGenerated", actionReconcile,
		"Generated signing key %s in Secret %s (key %q); give it to the receiving application", eioevents.KeyFingerprint(key), name,
		v1alpha1.SecretKeySigningKey)
	return nil
}

// reportDelivery sums up delivery over the organizations the subscription covers, and sets
// Degraded (with a Warning event when it starts).
func (r *EventSubscriptionReconciler) reportDelivery(ctx context.Context, sub *v1alpha1.EventSubscription) error {
	if r.Data == nil {
		return nil
	}
	orgs, err := r.coveredOrganizations(ctx, sub)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	status := &v1alpha1.DeliveryStatus{}
	var oldest time.Time
	for _, org := range orgs {
		d, err := r.Data.Delivery(ctx, string(sub.UID), org, sub.CreationTimestamp.Time)
		if err != nil {
			return err
		}
		addDelivery(status, d, &oldest)
	}
	if !oldest.IsZero() {
		status.LagSeconds = int64(now.Sub(oldest).Seconds())
	}
	sub.Status.Delivery = status
	degraded, reason, message, event := degradation(status, now)
	if degraded && !isConditionReason(sub.Status.Conditions, v1alpha1.ConditionDegraded, reason) {
		r.Recorder.Eventf(sub, nil, corev1.EventTypeWarning, event, actionReconcile, "%s", message)
	}
	setCondition(&sub.Status.Conditions, sub.Generation, v1alpha1.ConditionDegraded, degraded, reason, message)
	return nil
}

// addDelivery adds one organization's delivery to the subscription's status; oldest is the
// oldest pending event seen so far.
func addDelivery(status *v1alpha1.DeliveryStatus, d *store.Delivery, oldest *time.Time) {
	if !d.LastDelivered.IsZero() && (status.LastDeliveredAt == nil || d.LastDelivered.After(status.LastDeliveredAt.Time)) {
		status.LastDeliveredAt = &metav1.Time{Time: d.LastDelivered.Truncate(time.Second)}
	}
	if !d.OldestPending.IsZero() && (oldest.IsZero() || d.OldestPending.Before(*oldest)) {
		*oldest = d.OldestPending
	}
	status.Pending += max(d.LatestSeq-d.DeliveredSeq, 0)
	status.DeadLettered += d.DeadLettered
	status.Lost += d.Lost
	if !d.LostAt.IsZero() && (status.LastLostAt == nil || d.LostAt.After(status.LastLostAt.Time)) {
		status.LastLostAt = &metav1.Time{Time: d.LostAt.Truncate(time.Second)}
	}
	if int64(d.Attempts) > status.ConsecutiveFailures {
		status.ConsecutiveFailures, status.LastError = int64(d.Attempts), d.LastError
	}
}

// degradation is the Degraded condition a delivery status gives, and the Kubernetes Event that
// announces it.
func degradation(status *v1alpha1.DeliveryStatus, now time.Time) (degraded bool, reason, message, event string) {
	switch {
	case status.ConsecutiveFailures >= degradedAfter:
		return true, v1alpha1.ReasonDeliveryFailing, fmt.Sprintf("%d attempts in a row failed (last: %s); events wait and are retried",
			status.ConsecutiveFailures, status.LastError), EventDeliveryFailing
	case status.DeadLettered > 0:
		return true, v1alpha1.ReasonDeadLettered, fmt.Sprintf("%d events were given up on after spec.retryFor; replay them once the receiver works",
			status.DeadLettered), EventDeadLettered
	case status.LastLostAt != nil && now.Sub(status.LastLostAt.Time) < lostRecently:
		return true, v1alpha1.ReasonEventsLost, fmt.Sprintf("%d events were pruned (past the organization's spec.events.retention) before they "+
			"were delivered; the receiver must rebuild its state from the Events API", status.Lost), EventEventsLost
	}
	return false, v1alpha1.ReasonDelivering, "Deliveries succeed", ""
}

// coveredOrganizations are the organizations served from the subscription's namespace, narrowed
// to spec.organizations (as the Deliverer covers them).
func (r *EventSubscriptionReconciler) coveredOrganizations(ctx context.Context, sub *v1alpha1.EventSubscription) ([]string, error) {
	list := &v1alpha1.ScimIntegrationList{}
	if err := r.List(ctx, list, client.InNamespace(sub.Namespace)); err != nil {
		return nil, err
	}
	var orgs []string
	for i := range list.Items {
		s := &list.Items[i]
		if !s.Serving() {
			continue
		}
		if len(sub.Spec.Organizations) == 0 || slices.Contains(sub.Spec.Organizations, s.Status.Organization) {
			orgs = append(orgs, s.Status.Organization)
		}
	}
	return orgs, nil
}

// SetupWithManager registers the controller: its own status writes wake nothing; its generated
// key Secrets wake it.
func (r *EventSubscriptionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.EventSubscription{}, builder.WithPredicates(notStatusOnly())).
		Owns(&corev1.Secret{}).
		Named("eventsubscription").
		Complete(r)
}
