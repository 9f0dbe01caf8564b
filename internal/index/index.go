// Package index registers the manager cache's field indexes, shared by the controllers and the
// data plane's tenant registry.
package index

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// Field indexes on the manager's cache, so related objects are found without listing everything.
const (
	Organization   = "spec.organization"
	IdentityRef    = "spec.identityRef.name"
	TokenSecretRef = "spec.token.secretRef.name"          //nolint:gosec // a field path, not a credential
	ClientSecret   = "spec.sso.oidc.clientSecretRef.name" //nolint:gosec // a field path, not a credential
	// ClaimNamespace indexes OrganizationClaims by the namespace their organization belongs to.
	ClaimNamespace = "spec.namespace"
)

// Setup registers the field indexes the controllers rely on. Call it once per manager.
func Setup(ctx context.Context, mgr ctrl.Manager) error {
	indexer := mgr.GetFieldIndexer()
	if err := indexer.IndexField(ctx, &v1alpha1.EnterpriseIdentity{}, Organization, func(o client.Object) []string {
		return []string{o.(*v1alpha1.EnterpriseIdentity).Spec.Organization}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &v1alpha1.EnterpriseIdentity{}, ClientSecret, func(o client.Object) []string {
		if oidc := o.(*v1alpha1.EnterpriseIdentity).Spec.SSO.OIDC; oidc != nil {
			return []string{oidc.ClientSecretRef.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &v1alpha1.OrganizationClaim{}, ClaimNamespace, func(o client.Object) []string {
		return []string{o.(*v1alpha1.OrganizationClaim).Spec.Namespace}
	}); err != nil {
		return err
	}
	if err := indexer.IndexField(ctx, &v1alpha1.ScimIntegration{}, IdentityRef, func(o client.Object) []string {
		return []string{o.(*v1alpha1.ScimIntegration).Spec.IdentityRef.Name}
	}); err != nil {
		return err
	}
	return indexer.IndexField(ctx, &v1alpha1.ScimIntegration{}, TokenSecretRef, func(o client.Object) []string {
		if ref := o.(*v1alpha1.ScimIntegration).Spec.Token.SecretRef; ref != nil {
			return []string{ref.Name}
		}
		return nil
	})
}
