package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// reconcileToken makes sure a usable token exists: the user's own, or one generated once. When
// none is usable (a bring-your-own Secret deleted or emptied, as after a leak; a generated Secret
// replaced), the data plane serves none, and the store records so for replicas whose view lags.
func (r *ScimIntegrationReconciler) reconcileToken(ctx context.Context, s *scimScope) error {
	err := r.reconcileTokenSecret(ctx, s)
	if errors.Is(err, errStop) {
		s.tokens = []string{}
		if err := r.recordServing(ctx, s); err != nil {
			return err
		}
	}
	return err
}

func (r *ScimIntegrationReconciler) reconcileTokenSecret(ctx context.Context, s *scimScope) error {
	if ref := s.scim.Spec.Token.SecretRef; ref != nil {
		if err := r.removeGeneratedSecret(ctx, s); err != nil {
			return err
		}
		return r.reconcileOwnToken(ctx, s, ref)
	}
	return r.reconcileGeneratedToken(ctx, s)
}

func (r *ScimIntegrationReconciler) reconcileGeneratedToken(ctx context.Context, s *scimScope) error {
	now := r.Clock.Now()
	secret := &corev1.Secret{}
	key := types.NamespacedName{Namespace: s.scim.Namespace, Name: v1alpha1.TokenSecretName(s.scim.Name)}
	err := r.Get(ctx, key, secret)
	switch {
	case apierrors.IsNotFound(err):
		// The cache holds only Secrets labelled as the operator's: one of the same name without
		// the label is someone else's, and creating ours fails.
		if secret, err = r.issueToken(ctx, s, now); apierrors.IsAlreadyExists(err) {
			r.refuseForeignObject(s, v1alpha1.ConditionTokenIssued, v1alpha1.ReasonSecretNotOwned, "Secret", key.Name)
			return errStop
		}
		if apierrors.IsForbidden(err) || apierrors.IsInvalid(err) {
			// A namespace's quota, an admission policy: said in the condition, not only in the
			// logs, and tried again now and then (freed quota makes no event here).
			s.requeue.in(refusedRetry)
			s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonSecretRefused, truncate(fmt.Sprintf(
				"The API server refused token Secret %s: %s", key.Name, apiMessage(err)), 1024))
			return errStop
		}
		if err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("reading token Secret %s: %w", key.Name, err)
	case !metav1.IsControlledBy(secret, s.scim) || !recordedSecret(s.scim, secret):
		r.refuseForeignObject(s, v1alpha1.ConditionTokenIssued, v1alpha1.ReasonSecretNotOwned, "Secret", key.Name)
		return errStop
	default:
		if err := r.maintainToken(ctx, s, secret, now); err != nil {
			return err
		}
	}
	return r.reportGeneratedToken(s, secret, now)
}

// issueToken creates the token Secret, owned by the integration.
func (r *ScimIntegrationReconciler) issueToken(ctx context.Context, s *scimScope, now time.Time) (*corev1.Secret, error) {
	plaintext, err := token.Generate()
	if err != nil {
		return nil, err
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      v1alpha1.TokenSecretName(s.scim.Name),
			Namespace: s.scim.Namespace,
			Labels:    ownedLabels(s),
		},
		Type: corev1.SecretTypeOpaque,
	}
	// A request made before the first token needs no second one.
	token.Secret{Plaintext: plaintext, Hash: token.Hash(plaintext), IssuedAt: now, Rotation: s.scim.Spec.Token.Rotation, RotationKnown: true,
		RotationRequest: token.RotationRequestMark(s.scim.Annotations[v1alpha1.AnnotationRotateToken])}.WriteTo(secret)
	if err := controllerutil.SetControllerReference(s.scim, secret, r.Scheme()); err != nil {
		return nil, err
	}
	if err := r.Create(ctx, secret); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, err
		}
		return nil, fmt.Errorf("creating token Secret %s: %w", secret.Name, err)
	}
	r.Recorder.Eventf(s.scim, nil, corev1.EventTypeNormal, EventTokenIssued, actionReconcile,
		"Issued SCIM token %s; copy it once from Secret %s", token.Fingerprint(token.Hash(plaintext)), secret.Name)
	return secret, nil
}

// maintainToken applies rotation, acknowledgement and the end of an overlap window to an
// existing token Secret, in one update. Nothing else ever changes the token.
func (r *ScimIntegrationReconciler) maintainToken(ctx context.Context, s *scimScope, secret *corev1.Secret, now time.Time) error {
	content := token.ReadSecret(secret)
	changed := false
	if !content.RotationKnown {
		// Lost metadata is no reason for a new token: adopt the current counter.
		content.Rotation, content.RotationKnown = s.scim.Spec.Token.Rotation, true
		changed = true
	}
	request := token.RotationRequestMark(s.scim.Annotations[v1alpha1.AnnotationRotateToken])
	switch {
	case content.Rotation < s.scim.Spec.Token.Rotation || (request != "" && request != content.RotationRequest):
		if err := r.rotate(s, &content, now); err != nil {
			return err
		}
		content.RotationRequest = request
		changed = true
	case content.Acknowledged != "" && content.Plaintext != "":
		content.Plaintext = ""
		changed = true
		r.Recorder.Eventf(s.scim, nil, corev1.EventTypeNormal, EventTokenAcked, actionReconcile,
			"SCIM token %s was acknowledged; its plaintext was removed from Secret %s", token.Fingerprint(content.Hash), secret.Name)
	}
	if !content.PreviousValidUntil.IsZero() && !now.Before(content.PreviousValidUntil) {
		content.PreviousHash, content.PreviousValidUntil = "", time.Time{}
		changed = true
	}
	if !changed {
		return nil
	}
	// A patch of what changed: the cached copy holds only the operator's fields (secrets.CacheOptions),
	// and an update from it would remove everything else a user put on the Secret.
	original := secret.DeepCopy()
	content.WriteTo(secret)
	if err := r.Patch(ctx, secret, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("updating token Secret %s: %w", secret.Name, err)
	}
	return nil
}

// rotate replaces the token; the previous hash stays valid for the overlap window.
func (r *ScimIntegrationReconciler) rotate(s *scimScope, content *token.Secret, now time.Time) error {
	plaintext, err := token.Generate()
	if err != nil {
		return err
	}
	overlap := 24 * time.Hour
	if s.scim.Spec.Token.Overlap != nil {
		overlap = s.scim.Spec.Token.Overlap.Duration
	}
	var overlapUntil time.Time
	if overlap > 0 {
		overlapUntil = now.Add(overlap)
	}
	content.Rotate(plaintext, s.scim.Spec.Token.Rotation, now, overlapUntil)
	r.Recorder.Eventf(s.scim, nil, corev1.EventTypeNormal, EventTokenRotated, actionReconcile,
		"Rotated the SCIM token to %s (rotation %d); the previous token stays valid for %s",
		token.Fingerprint(content.Hash), s.scim.Spec.Token.Rotation, overlap)
	return nil
}

// reportGeneratedToken describes the token in status and TokenIssued, and handles expiry.
func (r *ScimIntegrationReconciler) reportGeneratedToken(s *scimScope, secret *corev1.Secret, now time.Time) error {
	content := token.ReadSecret(secret)
	if !token.ValidHash(content.Hash) {
		s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonTokenInvalid,
			fmt.Sprintf("Secret %s holds no valid sha256; raise spec.token.rotation to issue a new token", secret.Name))
		return errStop
	}
	status := &v1alpha1.TokenStatus{
		SecretName:      secret.Name,
		SecretUID:       string(secret.UID),
		Fingerprint:     token.Fingerprint(content.Hash),
		Rotation:        s.scim.Spec.Token.Rotation,
		Retrievable:     content.Plaintext != "",
		RotationRequest: content.RotationRequest,
	}
	if content.RotationKnown {
		status.Rotation = content.Rotation
	}
	if !content.IssuedAt.IsZero() {
		status.IssuedAt = &metav1.Time{Time: content.IssuedAt}
	}
	if !content.LastUsedAt.IsZero() {
		status.LastUsedAt = &metav1.Time{Time: content.LastUsedAt}
	}
	if until := content.PreviousValidUntil; !until.IsZero() {
		status.PreviousValidUntil = &metav1.Time{Time: until}
		s.requeue.in(until.Sub(now))
	}
	s.scim.Status.Token = status
	s.tokens = []string{status.Fingerprint}
	if token.ValidHash(content.PreviousHash) && !content.PreviousValidUntil.IsZero() {
		s.tokens = append(s.tokens, token.Fingerprint(content.PreviousHash))
	}

	if exp := s.scim.Spec.Token.ExpiresAfter; exp != nil && !content.IssuedAt.IsZero() {
		expiresAt := content.IssuedAt.Add(exp.Duration)
		status.ExpiresAt = &metav1.Time{Time: expiresAt}
		if !now.Before(expiresAt) {
			if !isConditionReason(s.scim.Status.Conditions, v1alpha1.ConditionTokenIssued, v1alpha1.ReasonTokenExpired) {
				r.Recorder.Eventf(s.scim, nil, corev1.EventTypeWarning, EventTokenExpired, actionReconcile,
					"SCIM token %s expired; raise spec.token.rotation to issue a new one", status.Fingerprint)
			}
			s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonTokenExpired,
				fmt.Sprintf("Token %s expired at %s; raise spec.token.rotation to issue a new one", status.Fingerprint, expiresAt.UTC().Format(time.RFC3339)))
			return nil
		}
		s.requeue.in(expiresAt.Sub(now))
	}
	message := fmt.Sprintf("Token %s is in use; its plaintext is no longer stored", status.Fingerprint)
	if status.Retrievable {
		message = fmt.Sprintf("Token %s is ready to be copied once from Secret %s (key %q)", status.Fingerprint, secret.Name, v1alpha1.SecretKeyToken)
	}
	s.setCondition(v1alpha1.ConditionTokenIssued, true, v1alpha1.ReasonIssued, message)
	return nil
}

// reconcileOwnToken reads a bring-your-own token Secret; it is never changed or deleted.
func (r *ScimIntegrationReconciler) reconcileOwnToken(ctx context.Context, s *scimScope, ref *v1alpha1.TokenSecretRef) error {
	keyName := ref.Key
	if keyName == "" {
		keyName = v1alpha1.SecretKeyToken
	}
	if len(validation.IsDNS1123Subdomain(ref.Name)) > 0 { // created before the CRD said so
		s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("spec.token.secretRef.name %q is not a Secret name", ref.Name))
		return errStop
	}
	secret := &corev1.Secret{}
	err := readerOr(r.APIReader, r.Client).Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: ref.Name}, secret)
	if apierrors.IsNotFound(err) {
		s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("Secret %q named by spec.token.secretRef does not exist", ref.Name))
		return errStop
	}
	if err != nil {
		return fmt.Errorf("reading token Secret %s: %w", ref.Name, err)
	}
	value := token.BroughtToken(secret, keyName)
	if value == "" {
		s.setCondition(v1alpha1.ConditionTokenIssued, false, v1alpha1.ReasonTokenInvalid,
			fmt.Sprintf("Secret %q has no key %q holding a token of at least %d characters", ref.Name, keyName, token.MinLength))
		return errStop
	}
	s.scim.Status.Token = &v1alpha1.TokenStatus{
		SecretName:  ref.Name,
		Fingerprint: token.Fingerprint(token.Hash(value)),
	}
	s.tokens = []string{s.scim.Status.Token.Fingerprint}
	s.setCondition(v1alpha1.ConditionTokenIssued, true, v1alpha1.ReasonBringYourOwnToken,
		fmt.Sprintf("Using token %s from Secret %s", s.scim.Status.Token.Fingerprint, ref.Name))
	return nil
}

// recordServing records in the store what the integration serves: which tokens it accepts, and
// whether it is switched off. Every replica refuses a token it still accepts that the record no
// longer lists, and answers as switched off once the record says so (tenant.BindingCheck), so a
// token rotated away or replaced, or an integration switched off, stops working even where a
// replica's view of Kubernetes lags.
func (r *ScimIntegrationReconciler) recordServing(ctx context.Context, s *scimScope) error {
	if r.Data == nil || s.claim == nil || s.tokens == nil {
		return nil
	}
	binding := store.Binding{Claim: string(s.claim.UID), Integration: string(s.scim.UID)}
	fingerprints := make([]string, len(s.tokens))
	for i, f := range s.tokens {
		fingerprints[i] = strings.ToLower(f) // as replicas compute them, whatever case the Secret's hash was written in
	}
	return r.Data.RecordServing(ctx, s.identity.Spec.Organization, binding, store.Serving{Tokens: fingerprints, Disabled: !s.scim.IsEnabled()})
}

// removeGeneratedSecret deletes a token this integration generated before it switched to a
// token of its own, so the old token stops working.
func (r *ScimIntegrationReconciler) removeGeneratedSecret(ctx context.Context, s *scimScope) error {
	secret := &corev1.Secret{}
	err := r.Get(ctx, types.NamespacedName{Namespace: s.scim.Namespace, Name: v1alpha1.TokenSecretName(s.scim.Name)}, secret)
	if apierrors.IsNotFound(err) || (err == nil && !metav1.IsControlledBy(secret, s.scim)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading generated token Secret: %w", err)
	}
	if err := r.Delete(ctx, secret); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting generated token Secret %s: %w", secret.Name, err)
	}
	return nil
}

// recordedSecret says whether a token Secret is the one the operator created for the
// integration, by the UID recorded in status when it was issued. An integration issued before
// UIDs were recorded adopts the Secret it controls once.
func recordedSecret(scim *v1alpha1.ScimIntegration, secret *corev1.Secret) bool {
	t := scim.Status.Token
	return t == nil || t.SecretUID == "" || t.SecretUID == string(secret.UID)
}

func isConditionReason(conds []metav1.Condition, typ, reason string) bool {
	c := meta.FindStatusCondition(conds, typ)
	return c != nil && c.Reason == reason
}
