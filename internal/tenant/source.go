package tenant

import (
	"context"
	"encoding/hex"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// Source keeps the registry in step with ScimIntegrations, their token Secrets and the
// organization claims. It runs on every replica (not leader-gated): each data plane needs its
// own registry. It does not trust the integration's status alone: it checks, from the cache,
// that the integration's EnterpriseIdentity holds the organization's claim and that the
// integration is the one chosen for it, so at most one integration passes for an organization
// and every replica serves the same one whatever order it saw the objects in.
type Source struct {
	client.Client
	Registry *Registry
	// APIReader reads bring-your-own token Secrets, which the manager does not cache; nil reads
	// through Client.
	APIReader client.Reader
	// SecretNames tells which Secrets changed (names only); nil watches none.
	SecretNames *secrets.Names
	// MaxRateLimit caps every organization's spec.rateLimit (RateLimit.Capped); zero caps nothing.
	MaxRateLimit RateLimit
}

// SetupWithManager registers the source as a controller that needs no leader election.
func (s *Source) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ScimIntegration{})
	if s.SecretNames != nil {
		b = b.WatchesRawSource(s.SecretNames.Source(s.byOwnSecret))
	}
	return b.
		Owns(&corev1.Secret{}).
		Watches(&v1alpha1.OrganizationClaim{}, handler.EnqueueRequestsFromMapFunc(s.byClaim)).
		Watches(&v1alpha1.EnterpriseIdentity{}, handler.EnqueueRequestsFromMapFunc(s.byIdentity)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false)}).
		Named("tenant-registry").
		Complete(s)
}

func (s *Source) byOwnSecret(ctx context.Context, namespace, name string) []reconcile.Request {
	list := &v1alpha1.ScimIntegrationList{}
	if err := s.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{index.TokenSecretRef: name}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// byClaim wakes the integration serving the organization now and those of the claim's namespace.
func (s *Source) byClaim(ctx context.Context, obj client.Object) []reconcile.Request {
	var out []reconcile.Request
	if key, ok := s.Registry.ServedBy(obj.GetName()); ok {
		out = append(out, reconcile.Request{NamespacedName: key})
	}
	claim, ok := obj.(*v1alpha1.OrganizationClaim)
	if !ok {
		return out
	}
	list := &v1alpha1.ScimIntegrationList{}
	if err := s.List(ctx, list, client.InNamespace(claim.Spec.Namespace)); err != nil {
		return out
	}
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// byIdentity wakes the integrations naming an EnterpriseIdentity.
func (s *Source) byIdentity(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.ScimIntegrationList{}
	if err := s.List(ctx, list, client.InNamespace(obj.GetNamespace()), client.MatchingFields{index.IdentityRef: obj.GetName()}); err != nil {
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
	claim, err := s.heldClaim(ctx, scim)
	if err != nil {
		return ctrl.Result{}, err
	}
	org, ok := s.organization(ctx, scim)
	if claim == nil || !ok {
		s.Registry.Remove(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	org.Binding = store.Binding{Claim: string(claim.UID), Integration: string(scim.UID)}
	s.Registry.Set(org)
	return ctrl.Result{}, nil
}

// heldClaim returns the organization's claim when the integration provisions its organization
// now: its EnterpriseIdentity holds the claim and it is the identity's chosen integration; nil
// otherwise.
func (s *Source) heldClaim(ctx context.Context, scim *v1alpha1.ScimIntegration) (*v1alpha1.OrganizationClaim, error) {
	if !scim.Serving() || !scim.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	identity := &v1alpha1.EnterpriseIdentity{}
	err := s.Get(ctx, types.NamespacedName{Namespace: scim.Namespace, Name: scim.Spec.IdentityRef.Name}, identity)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if identity.Spec.Organization != scim.Status.Organization || !identity.DeletionTimestamp.IsZero() {
		return nil, nil
	}
	claim, held, err := claims.HeldBy(ctx, s.Client, identity)
	if err != nil || !held {
		return nil, err
	}
	chosen, err := claims.ChosenIntegration(ctx, s.Client, scim.Namespace, identity.Name)
	if err != nil || chosen == nil || chosen.Name != scim.Name {
		return nil, err
	}
	return claim, nil
}

// organization reads what the data plane needs to serve the integration; false when it has no
// usable token yet.
func (s *Source) organization(ctx context.Context, scim *v1alpha1.ScimIntegration) (*Organization, bool) {
	org := &Organization{
		Name:        scim.Status.Organization,
		Integration: client.ObjectKeyFromObject(scim),
		Enabled:     scim.IsEnabled(),
		Policy:      policy(scim.Spec.Provisioning),
		RateLimit:   s.rateLimit(scim),
	}
	org.AuditRetention, org.EventRetention = 90*24*time.Hour, 30*24*time.Hour
	if r := scim.Spec.Audit.Retention; r != nil {
		org.AuditRetention = r.Duration
	}
	if r := scim.Spec.Events.Retention; r != nil {
		org.EventRetention = r.Duration
	}
	secret := &corev1.Secret{}
	if ref := scim.Spec.Token.SecretRef; ref != nil {
		org.TokenSecret = types.NamespacedName{Namespace: scim.Namespace, Name: ref.Name}
		var reader client.Reader = s.Client
		if s.APIReader != nil {
			reader = s.APIReader
		}
		if err := reader.Get(ctx, org.TokenSecret, secret); err != nil {
			return nil, false
		}
		if value := token.BroughtToken(secret, ref.Key); value != "" {
			org.Credentials = append(org.Credentials, credential(token.Hash(value), time.Time{}, true))
		}
		return org, true
	}
	org.TokenSecret = types.NamespacedName{Namespace: scim.Namespace, Name: v1alpha1.TokenSecretName(scim.Name)}
	org.Generated = true
	// Only the Secret the operator created and recorded: a Secret anyone points at the
	// integration, or a replacement of the same name, carries no token the operator issued.
	if err := s.Get(ctx, org.TokenSecret, secret); err != nil || !metav1.IsControlledBy(secret, scim) ||
		scim.Status.Token == nil || scim.Status.Token.SecretUID == "" || scim.Status.Token.SecretUID != string(secret.UID) {
		return nil, false
	}
	content := token.ReadSecret(secret)
	org.Retrievable = content.Plaintext != ""
	// The usage recorder's annotation: a Secret change, so the organization is set again.
	org.TokenLastUsed = content.LastUsedAt
	var notAfter time.Time
	if exp := scim.Spec.Token.ExpiresAfter; exp != nil && !content.IssuedAt.IsZero() {
		notAfter = content.IssuedAt.Add(exp.Duration)
	}
	if token.ValidHash(content.Hash) {
		org.Credentials = append(org.Credentials, credential(content.Hash, notAfter, true))
	}
	if token.ValidHash(content.PreviousHash) && !content.PreviousValidUntil.IsZero() {
		org.Credentials = append(org.Credentials, credential(content.PreviousHash, content.PreviousValidUntil, false))
	}
	return org, true
}

// policy reads the provisioning policy, with the CRD's defaults for unset fields.
func policy(p v1alpha1.ProvisioningSpec) provisioning.Policy {
	out := provisioning.DefaultPolicy
	if p.AutoActivate != nil {
		out.AutoActivate = *p.AutoActivate
	}
	if p.Deprovision.OnDeactivate != "" {
		out.OnDeactivate = provisioning.Action(p.Deprovision.OnDeactivate)
	}
	if p.Deprovision.OnDelete != "" {
		out.OnDelete = provisioning.Action(p.Deprovision.OnDelete)
	}
	out.DefaultRole = p.DefaultRoleTemplate
	for _, m := range p.GroupRoles {
		out.GroupRoles = append(out.GroupRoles, provisioning.GroupRole{Group: m.Group, Role: m.RoleTemplate})
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

// rateLimit is the limit an integration is served at: its spec's, within the installation's.
func (s *Source) rateLimit(scim *v1alpha1.ScimIntegration) RateLimit {
	l, _ := RateLimitOf(scim.Spec.RateLimit).Capped(s.MaxRateLimit)
	return l
}
