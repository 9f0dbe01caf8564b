package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;patch

// Revealed is a token shown once.
type Revealed struct {
	Token       string `json:"token"`
	Fingerprint string `json:"fingerprint"`
	Note        string `json:"note"`
}

// RevealToken returns the plaintext token once and acknowledges it, so the operator removes it
// from the Secret. The caller needs get on that Secret: revealing is reading it.
func (s *Service) RevealToken(ctx context.Context, org *tenant.Organization, who Actor) (*Revealed, error) {
	if !org.Generated {
		return nil, Refuse(http.StatusConflict, "This organization brings its own token (spec.token.secretRef); read it where it is managed")
	}
	ok, err := s.allowedOn(ctx, who.Identity, &authorizationv1.ResourceAttributes{
		Namespace: org.TokenSecret.Namespace, Verb: "get", Resource: "secrets", Name: org.TokenSecret.Name,
	})
	if err != nil {
		return nil, s.internal(err)
	}
	if !ok {
		return nil, Refuse(http.StatusForbidden, "%s may not read Secret %s in namespace %s", who.User, org.TokenSecret.Name, org.TokenSecret.Namespace)
	}
	secret := &corev1.Secret{}
	if err := s.Client.Get(ctx, org.TokenSecret, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, Refuse(http.StatusConflict, "The token is still being issued; try again in a moment")
		}
		return nil, s.internal(err)
	}
	content := token.ReadSecret(secret)
	plaintext := content.Plaintext
	if plaintext == "" || content.Acknowledged != "" {
		return nil, Refuse(http.StatusGone, "The token was already revealed (it is shown once); rotate to issue a new one")
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{
		// Optimistic lock: of two concurrent reveals, one wins.
		"resourceVersion": secret.ResourceVersion,
		"annotations":     map[string]string{v1alpha1.AnnotationTokenAcknowledged: "revealed-by:" + who.User},
	}})
	if err := s.Client.Patch(ctx, secret, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsConflict(err) {
			return nil, Refuse(http.StatusConflict, "The token is being revealed elsewhere; it is shown once")
		}
		return nil, s.internal(err)
	}
	fingerprint := token.Fingerprint(token.Hash(plaintext))
	s.auditAdmin(ctx, org, who, "token.reveal", "Token "+fingerprint+" revealed")
	return &Revealed{Token: plaintext, Fingerprint: fingerprint, Note: "Shown once: copy it into your identity provider now."}, nil
}

// RotateToken asks for a new token as the caller (impersonated, so RBAC and the API audit log see
// them) by counting up the integration's enterprise.z8z8.io/rotate-token annotation with
// server-side apply under the wizard's own field manager. The spec is left alone, so a GitOps
// tool that owns it neither undoes the rotation nor fails to sync (spec.token.rotation can only
// go up). A new token is issued; the previous one stays valid for the overlap.
func (s *Service) RotateToken(ctx context.Context, org *tenant.Organization, who Actor) (int64, error) {
	c, err := s.clientFor(who.Identity)
	if err != nil {
		return 0, s.internal(err)
	}
	scim := &v1alpha1.ScimIntegration{}
	if err := s.Client.Get(ctx, org.Integration, scim); err != nil {
		return 0, s.internal(err)
	}
	// After the last request answered, whatever became of the annotation: the controller rotates
	// for a request its token has not answered, and an annotation removed (kubectl replace, a
	// GitOps tool replacing the object) counted again from 1, a request answered long ago.
	current, _ := strconv.ParseInt(scim.Annotations[v1alpha1.AnnotationRotateToken], 10, 64)
	if scim.Status.Token != nil {
		answered, _ := strconv.ParseInt(scim.Status.Token.RotationRequest, 10, 64)
		current = max(current, answered)
	}
	next := current + 1
	apply := &unstructured.Unstructured{}
	apply.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ScimIntegration"))
	apply.SetNamespace(scim.Namespace)
	apply.SetName(scim.Name)
	// Optimistic lock: of two concurrent rotations, one wins and the other is asked to retry.
	apply.SetResourceVersion(scim.ResourceVersion)
	apply.SetAnnotations(map[string]string{v1alpha1.AnnotationRotateToken: strconv.FormatInt(next, 10)})
	if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(apply), client.FieldOwner(RotationFieldManager), client.ForceOwnership); err != nil {
		if apierrors.IsForbidden(err) {
			return 0, Refuse(http.StatusForbidden, "%s may not patch ScimIntegration %s in namespace %s", who.User, org.Integration.Name, org.Integration.Namespace)
		}
		if apierrors.IsConflict(err) {
			return 0, Refuse(http.StatusConflict, "The ScimIntegration changed meanwhile; try again")
		}
		return 0, s.internal(err)
	}
	s.auditAdmin(ctx, org, who, "token.rotate", fmt.Sprintf("Rotation request %d", next))
	return next, nil
}

// Server-side apply field managers of the wizard's and the admin API's writes, so managedFields
// tell them from GitOps tools and kubectl. Rotation requests have a manager of their own: an
// applier owns exactly what its last apply sent, so the forms' applies (which never send the
// annotation) would otherwise remove it.
const (
	FieldManager         = "enterprise-identity-wizard"
	RotationFieldManager = "enterprise-identity-token-rotation"
)

// clientFor is a client acting as who. Without impersonation there is none: writing with the
// manager's own client would lend the caller the operator's rights.
func (s *Service) clientFor(who Identity) (client.Client, error) {
	if s.Impersonate == nil {
		return nil, errors.New("the admin API has no impersonating client; refusing to write with the operator's own rights")
	}
	return s.Impersonate(who)
}
