package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// ScimPathPrefix is where an organization's SCIM endpoint lives on the data plane.
const ScimPathPrefix = "/scim/v2/"

// reconcileEndpoint computes the base URL, keeps the optional Ingress (and the Service it routes
// to) in shape, and reports whether the data plane serves the organization.
func (r *ScimIntegrationReconciler) reconcileEndpoint(ctx context.Context, s *scimScope) error {
	s.endpointChecked = true
	org := s.identity.Spec.Organization
	ingress := s.scim.Spec.Endpoint.Ingress
	if ingress.Enabled {
		if err := r.applyRouting(ctx, s); err != nil {
			return err
		}
		scheme := schemeHTTP
		if ingress.TLSSecretName != "" {
			scheme = "https"
		}
		s.scim.Status.BaseURL = fmt.Sprintf("%s://%s%s%s", scheme, ingress.Host, ScimPathPrefix, org)
	} else {
		if err := r.removeRouting(ctx, s); err != nil {
			return err
		}
		s.scim.Status.BaseURL = strings.TrimSuffix(r.ExternalURL, "/") + ScimPathPrefix + org
	}

	switch {
	case !s.scim.IsEnabled():
		s.setCondition(v1alpha1.ConditionEndpointReady, false, v1alpha1.ReasonDisabled,
			"Provisioning is disabled (spec.enabled: false); the endpoint answers 403")
	case r.DataPlane != nil && r.DataPlane.ServingFor(org, client.ObjectKeyFromObject(s.scim)):
		if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionEndpointReady, v1alpha1.ReasonServing) {
			r.Recorder.Eventf(s.scim, nil, corev1.EventTypeNormal, EventEndpointReady, actionReconcile,
				"The SCIM endpoint %s is serving", s.scim.Status.BaseURL)
		}
		s.setCondition(v1alpha1.ConditionEndpointReady, true, v1alpha1.ReasonServing, "The data plane serves "+s.scim.Status.BaseURL)
	default:
		s.setCondition(v1alpha1.ConditionEndpointReady, false, v1alpha1.ReasonDataPlaneNotServing,
			"The SCIM data plane is not serving this organization yet")
		if r.DataPlane != nil {
			// The data plane picks the organization up from the cache within moments; look again.
			s.requeue.in(2 * time.Second)
		}
	}
	return nil
}

// applyRouting creates or updates the Ingress for /scim/v2/{organization} and an ExternalName
// Service beside it pointing at the data plane Service: an Ingress can only route to Services in
// its own namespace, and the data plane runs in the operator's.
func (r *ScimIntegrationReconciler) applyRouting(ctx context.Context, s *scimScope) error {
	name := s.scim.Name + endpointObjectSuffix
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.scim.Namespace}}
	if ok, err := r.createOrPatchOwned(ctx, s, svc, "Service", func() {
		svc.Labels = ownedLabels(s)
		svc.Spec.Type = corev1.ServiceTypeExternalName
		svc.Spec.ExternalName = r.DataPlaneService
		// Protocol as the API server defaults it, so an unchanged Service is not updated each pass.
		svc.Spec.Ports = []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: r.DataPlaneServicePort,
			TargetPort: intstr.FromInt32(r.DataPlaneServicePort)}}
	}); err != nil || !ok {
		return err
	}

	spec := s.scim.Spec.Endpoint.Ingress
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.scim.Namespace}}
	_, err := r.createOrPatchOwned(ctx, s, ing, "Ingress", func() {
		ing.Labels = ownedLabels(s)
		ing.Annotations = spec.Annotations
		// Without a className the API server's DefaultIngressClass admission names the cluster's
		// default on create (and only then): keep what it chose, or the next update strips it and
		// controllers that ignore class-less Ingresses drop the route.
		assigned := ing.Spec.IngressClassName
		ing.Spec = networkingv1.IngressSpec{IngressClassName: assigned}
		if spec.ClassName != "" {
			ing.Spec.IngressClassName = &spec.ClassName
		}
		if spec.TLSSecretName != "" {
			ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{spec.Host}, SecretName: spec.TLSSecretName}}
		}
		pathType := networkingv1.PathTypePrefix
		ing.Spec.Rules = []networkingv1.IngressRule{{
			Host: spec.Host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{
					Path:     ScimPathPrefix + s.identity.Spec.Organization,
					PathType: &pathType,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
						Name: name,
						Port: networkingv1.ServiceBackendPort{Number: r.DataPlaneServicePort},
					}},
				}},
			}},
		}}
	})
	return err
}

// createOrPatchOwned brings an object we own to the state mutate gives it. An object of the
// same name that we do not control is left alone: the EndpointReady condition says so and the
// pass stops (ok is false).
func (r *ScimIntegrationReconciler) createOrPatchOwned(ctx context.Context, s *scimScope, obj client.Object, kind string, mutate func()) (bool, error) {
	err := r.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	switch {
	case apierrors.IsNotFound(err):
		mutate()
		if err = controllerutil.SetControllerReference(s.scim, obj, r.Scheme()); err == nil {
			err = r.Create(ctx, obj)
		}
	case err != nil:
		return false, fmt.Errorf("reading %s %s: %w", kind, obj.GetName(), err)
	case !metav1.IsControlledBy(obj, s.scim):
		r.refuseForeignObject(s, v1alpha1.ConditionEndpointReady, v1alpha1.ReasonIngressNotOwned, kind, obj.GetName())
		return false, errStop
	default:
		// A patch of what changed: the cached copy holds only what the operator writes
		// (secrets.CacheOptions), and an update from it would remove the rest, an ingress
		// controller's finalizer among it. Unchanged, nothing is sent.
		original := obj.DeepCopyObject().(client.Object)
		mutate()
		if !equality.Semantic.DeepEqual(original, obj) {
			err = r.Patch(ctx, obj, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
		}
	}
	switch {
	case apierrors.IsAlreadyExists(err):
		// The cache holds only objects labelled as the operator's (secrets.CacheOptions): one of
		// the same name without the label is someone else's.
		r.refuseForeignObject(s, v1alpha1.ConditionEndpointReady, v1alpha1.ReasonIngressNotOwned, kind, obj.GetName())
		return false, errStop
	case apierrors.IsInvalid(err) || apierrors.IsForbidden(err):
		// Retrying at once would not help, and the reason would be in the logs only. A refusal
		// that is not the spec's (an admission policy fixed since, a namespace's quota freed) is
		// tried again now and then.
		s.requeue.in(routingInvalidRetry)
		if apierrors.IsForbidden(err) {
			s.requeue.in(refusedRetry)
		}
		s.setCondition(v1alpha1.ConditionEndpointReady, false, v1alpha1.ReasonRoutingInvalid, truncate(fmt.Sprintf(
			"The API server refused %s %s that the endpoint's ingress needs: %s", kind, obj.GetName(), apiMessage(err)), 1024))
		return false, errStop
	case err != nil:
		return false, fmt.Errorf("applying %s %s: %w", kind, obj.GetName(), err)
	}
	return true, nil
}

// routingInvalidRetry is how soon routing the API server refused as invalid is tried again
// without a change; refusedRetry an object it forbade (a namespace's quota, an admission policy).
const (
	routingInvalidRetry = 10 * time.Minute
	refusedRetry        = time.Minute
)

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// apiMessage is the API server's own words of an error.
func apiMessage(err error) string {
	if status, ok := err.(apierrors.APIStatus); ok { //nolint:errorlint // the API error itself, as apierrors reads it
		return status.Status().Message
	}
	return err.Error()
}

// removeRouting deletes the Ingress and Service this integration created once ingress is off.
func (r *ScimIntegrationReconciler) removeRouting(ctx context.Context, s *scimScope) error {
	name := s.scim.Name + endpointObjectSuffix
	for _, obj := range []client.Object{&networkingv1.Ingress{}, &corev1.Service{}} {
		if err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return fmt.Errorf("reading routing object %s: %w", name, err)
		}
		if !metav1.IsControlledBy(obj, s.scim) {
			continue
		}
		if err := r.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting routing object %s: %w", name, err)
		}
	}
	return nil
}

// refuseForeignObject reports an object in our way that we never adopt.
func (r *ScimIntegrationReconciler) refuseForeignObject(s *scimScope, condition, reason, kind, name string) {
	message := fmt.Sprintf("%s %s exists and is not managed by this ScimIntegration; it is left alone: delete or rename it", kind, name)
	if !isConditionReason(s.scim.Status.Conditions, condition, reason) {
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventObjectNotOwned, actionReconcile, "%s", message)
	}
	s.setCondition(condition, false, reason, message)
}

func ownedLabels(s *scimScope) map[string]string {
	labels := map[string]string{managedByLabel: managedByValue}
	if s.identity != nil {
		labels[organizationLabel] = s.identity.Spec.Organization
	}
	return labels
}
