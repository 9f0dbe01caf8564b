package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/sso"
)

// certificateWarning is how early an expiring SAML signing certificate is reported.
const certificateWarning = 30 * 24 * time.Hour

// validateSSO checks the SSO configuration against the identity provider and records what it
// learned. A failure is kept in the scope (not returned) so the organization claim is still
// settled in this pass.
func (r *EnterpriseIdentityReconciler) validateSSO(ctx context.Context, s *identityScope) error {
	identity := s.identity
	if asksIdentityProvider(identity) {
		if !r.ssoTurns.take(identity.Namespace) { // enterpriseidentity_sso_turns.go
			s.deferred = true
			s.requeue.in(ssoBusyRetry)
			return errStop
		}
		defer r.ssoTurns.done(identity.Namespace)
	}
	now := r.Clock.Now()
	var (
		learned = &v1alpha1.SSOStatus{}
		reason  = v1alpha1.ReasonValidated
		message string
		err     error
	)
	switch {
	case identity.Spec.SSO.OIDC != nil:
		learned.Protocol = "OIDC"
		message, err = r.validateOIDC(ctx, identity, learned)
	case identity.Spec.SSO.SAML != nil:
		learned.Protocol = "SAML"
		message, reason, err = r.validateSAML(ctx, identity, learned, now)
	default:
		err = &sso.ValidationError{Reason: v1alpha1.ReasonMetadataInvalid, Message: "sso sets neither oidc nor saml"}
	}

	// Copied: setCondition changes the slice element in place.
	var previous *metav1.Condition
	if c := meta.FindStatusCondition(identity.Status.Conditions, v1alpha1.ConditionSSOReady); c != nil {
		previous = c.DeepCopy()
	}
	wasReady := previous != nil && previous.Status == metav1.ConditionTrue
	if err != nil {
		var invalid *sso.ValidationError
		if !errors.As(err, &invalid) {
			return fmt.Errorf("validating SSO of %s: %w", identity.Spec.Organization, err)
		}
		if previous == nil || wasReady || previous.Reason != invalid.Reason {
			r.Recorder.Eventf(identity, nil, corev1.EventTypeWarning, EventSSOFailed, actionReconcile, "%s", invalid.Message)
		}
		setCondition(&identity.Status.Conditions, identity.Generation, v1alpha1.ConditionSSOReady, false, invalid.Reason, invalid.Message)
		ctrl.LoggerFrom(ctx).Info("SSO validation failed", "reason", invalid.Reason, "detail", err.Error())
		s.ssoErr = err
		return nil
	}

	learned.LastValidatedAt = r.validatedAt(identity.Status.SSO, learned, wasReady, now)
	identity.Status.SSO = learned
	setCondition(&identity.Status.Conditions, identity.Generation, v1alpha1.ConditionSSOReady, true, reason, message)
	if !wasReady {
		r.Recorder.Eventf(identity, nil, corev1.EventTypeNormal, EventSSOValidated, actionReconcile, "%s", message)
	}
	if reason == v1alpha1.ReasonCertificateExpiresSoon && (previous == nil || previous.Reason != v1alpha1.ReasonCertificateExpiresSoon) {
		r.Recorder.Eventf(identity, nil, corev1.EventTypeWarning, EventCertExpiresSoon, actionReconcile, "%s", message)
	}
	return nil
}

func (r *EnterpriseIdentityReconciler) validateOIDC(ctx context.Context, identity *v1alpha1.EnterpriseIdentity, learned *v1alpha1.SSOStatus) (string, error) {
	oidc := identity.Spec.SSO.OIDC
	if err := r.checkClientSecret(ctx, identity.Namespace, oidc.ClientSecretRef); err != nil {
		return "", err
	}
	result, err := sso.ValidateOIDC(ctx, r.HTTPClient, oidc.IssuerURL)
	if err != nil {
		return "", err
	}
	learned.Issuer = result.Issuer
	return fmt.Sprintf("OIDC issuer %s found with %d signing key(s)", result.Issuer, result.Keys), nil
}

func (r *EnterpriseIdentityReconciler) checkClientSecret(ctx context.Context, namespace string, ref corev1.SecretKeySelector) error {
	if len(validation.IsDNS1123Subdomain(ref.Name)) > 0 {
		// Created before the CRD said so: the client would refuse it without asking, an error
		// that is not the identity provider's, and the identity would never reach its claim.
		return &sso.ValidationError{Reason: v1alpha1.ReasonClientSecretMissing,
			Message: fmt.Sprintf("clientSecretRef.name %q is not a Secret name", ref.Name)}
	}
	secret := &corev1.Secret{}
	err := readerOr(r.APIReader, r.Client).Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		return &sso.ValidationError{Reason: v1alpha1.ReasonClientSecretMissing, Message: fmt.Sprintf("The client secret Secret %q does not exist", ref.Name)}
	}
	if err != nil {
		return fmt.Errorf("reading client secret %s: %w", ref.Name, err)
	}
	if len(secret.Data[ref.Key]) == 0 {
		return &sso.ValidationError{Reason: v1alpha1.ReasonClientSecretMissing,
			Message: fmt.Sprintf("The Secret %q has no key %q with the client secret", ref.Name, ref.Key)}
	}
	return nil
}

func (r *EnterpriseIdentityReconciler) validateSAML(
	ctx context.Context, identity *v1alpha1.EnterpriseIdentity, learned *v1alpha1.SSOStatus, now time.Time,
) (message, reason string, err error) {
	saml := identity.Spec.SSO.SAML
	metadata := []byte(saml.Metadata)
	if saml.MetadataURL != "" {
		body, err := sso.FetchMetadata(ctx, r.HTTPClient, saml.MetadataURL)
		if err != nil {
			return "", "", err
		}
		metadata = body
	}
	result, err := sso.ParseSAMLMetadata(metadata, saml.EntityID, now)
	if err != nil {
		return "", "", err
	}
	learned.IdPEntityID = result.EntityID
	learned.SSOURL = result.SSOURL
	learned.SigningCertificateNotAfter = &metav1.Time{Time: result.CertificateNotAfter}
	expiry := result.CertificateNotAfter.UTC().Format(time.DateOnly)
	// The entity ID comes from the fetched document: it is in status.sso, not in the message, so a
	// condition never repeats what a tenant's URL returned.
	if result.CertificateNotAfter.Sub(now) < certificateWarning {
		return fmt.Sprintf("SAML identity provider found (status.sso.idpEntityID), but its signing certificate expires on %s: "+
				"upload new metadata before then", expiry),
			v1alpha1.ReasonCertificateExpiresSoon, nil
	}
	return fmt.Sprintf("SAML identity provider found (status.sso.idpEntityID); signing certificate valid until %s", expiry), v1alpha1.ReasonValidated, nil
}

// validatedAt is status.sso.lastValidatedAt after a successful validation. It moves when SSO was
// not Ready before, when what was learned differs from status, or when the previous validation
// is a recheck interval old; a pass that confirms what status already says within the interval
// (woken by a Secret, a claim, a restart) leaves it alone, so that pass writes nothing. Stamping
// now on every pass made each status write wake the next pass, forever, once the work queue took
// longer than a second.
func (r *EnterpriseIdentityReconciler) validatedAt(previous, learned *v1alpha1.SSOStatus, wasReady bool, now time.Time) *metav1.Time {
	stamp := metav1.NewTime(now).Rfc3339Copy()
	if !wasReady || previous == nil || previous.LastValidatedAt == nil || now.Sub(previous.LastValidatedAt.Time) >= r.RecheckInterval {
		return &stamp
	}
	same := *learned
	same.LastValidatedAt = previous.LastValidatedAt
	if !equality.Semantic.DeepEqual(&same, previous) {
		return &stamp
	}
	return previous.LastValidatedAt
}
