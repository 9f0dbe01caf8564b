package tenant

import (
	"context"
	"encoding/hex"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/lifecycle"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// Source keeps the registry in step with ScimIntegrations and their token Secrets. It runs on
// every replica (not leader-gated): each data plane needs its own registry.
type Source struct {
	client.Client
	Registry *Registry
}

// SetupWithManager registers the source as a controller that needs no leader election.
func (s *Source) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ScimIntegration{}).
		Owns(&corev1.Secret{}).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(s.byOwnSecret)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Named("tenant-registry").
		Complete(s)
}

func (s *Source) byOwnSecret(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.ScimIntegrationList{}
	if err := s.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{index.TokenSecretRef: obj.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile serves the integration's organization when the control plane has settled it: an
// organization it owns, and a token.
func (s *Source) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	scim := &v1alpha1.ScimIntegration{}
	if err := s.Get(ctx, req.NamespacedName, scim); err != nil {
		if apierrors.IsNotFound(err) {
			s.Registry.Remove(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	org, ok := s.organization(ctx, scim)
	if !ok {
		s.Registry.Remove(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	s.Registry.Set(org)
	return ctrl.Result{}, nil
}

func (s *Source) organization(ctx context.Context, scim *v1alpha1.ScimIntegration) (*Organization, bool) {
	sso := meta.FindStatusCondition(scim.Status.Conditions, v1alpha1.ConditionSSOReady)
	if scim.Status.Organization == "" || !scim.DeletionTimestamp.IsZero() || sso == nil || sso.Reason == "Conflict" || sso.Reason == "IdentityConflict" {
		return nil, false
	}
	org := &Organization{
		Name:        scim.Status.Organization,
		Integration: client.ObjectKeyFromObject(scim),
		Enabled:     scim.IsEnabled(),
		Policy:      policy(scim.Spec.Provisioning),
	}
	org.AuditRetention = 90 * 24 * time.Hour
	if r := scim.Spec.Audit.Retention; r != nil {
		org.AuditRetention = r.Duration
	}
	secret := &corev1.Secret{}
	if ref := scim.Spec.Token.SecretRef; ref != nil {
		org.TokenSecret = types.NamespacedName{Namespace: scim.Namespace, Name: ref.Name}
		if err := s.Get(ctx, org.TokenSecret, secret); err != nil {
			return nil, false
		}
		key := ref.Key
		if key == "" {
			key = v1alpha1.SecretKeyToken
		}
		if value := secret.Data[key]; len(value) >= token.MinLength {
			org.Credentials = append(org.Credentials, credential(token.Hash(string(value)), time.Time{}, true))
		}
		return org, true
	}
	org.TokenSecret = types.NamespacedName{Namespace: scim.Namespace, Name: v1alpha1.TokenSecretName(scim.Name)}
	org.Generated = true
	if err := s.Get(ctx, org.TokenSecret, secret); err != nil || !metav1.IsControlledBy(secret, scim) {
		return nil, false
	}
	org.Retrievable = len(secret.Data[v1alpha1.SecretKeyToken]) > 0
	var notAfter time.Time
	if exp := scim.Spec.Token.ExpiresAfter; exp != nil {
		if issued, err := time.Parse(time.RFC3339, secret.Annotations[v1alpha1.AnnotationIssuedAt]); err == nil {
			notAfter = issued.Add(exp.Duration)
		}
	}
	if h := string(secret.Data[v1alpha1.SecretKeySHA256]); token.ValidHash(h) {
		org.Credentials = append(org.Credentials, credential(h, notAfter, true))
	}
	if h := string(secret.Data[v1alpha1.SecretKeyPreviousSHA256]); token.ValidHash(h) {
		if until, err := time.Parse(time.RFC3339, secret.Annotations[v1alpha1.AnnotationPreviousValidUntil]); err == nil {
			org.Credentials = append(org.Credentials, credential(h, until, false))
		}
	}
	return org, true
}

// policy reads the provisioning policy, with the CRD's defaults for unset fields.
func policy(p v1alpha1.ProvisioningSpec) lifecycle.Policy {
	out := lifecycle.DefaultPolicy
	if p.AutoActivate != nil {
		out.AutoActivate = *p.AutoActivate
	}
	if p.Deprovision.OnDeactivate != "" {
		out.OnDeactivate = lifecycle.Action(p.Deprovision.OnDeactivate)
	}
	if p.Deprovision.OnDelete != "" {
		out.OnDelete = lifecycle.Action(p.Deprovision.OnDelete)
	}
	out.DefaultRole = p.DefaultRoleTemplate
	for _, m := range p.GroupRoles {
		out.GroupRoles = append(out.GroupRoles, lifecycle.GroupRole{Group: m.Group, Role: m.RoleTemplate})
	}
	out.DryRun = p.Mode == v1alpha1.ProvisioningDryRun
	if m := p.Deprovision.MaxPerHour; m != nil {
		out.MaxDeprovisionsPerHour = int(*m)
	}
	return out
}

func credential(hexHash string, notAfter time.Time, current bool) Credential {
	c := Credential{NotAfter: notAfter, Current: current}
	b, _ := hex.DecodeString(hexHash)
	copy(c.SHA256[:], b)
	return c
}
