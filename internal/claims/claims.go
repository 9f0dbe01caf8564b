// Package claims answers, from the manager's cache, who holds an organization: the rules the
// controllers, the data plane's tenant registry and the wizard share, so every reader (and every
// replica) reaches the same answer whatever order it saw the objects in.
package claims

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/index"
)

// Get returns the OrganizationClaim of an organization, or nil when nobody claims it.
func Get(ctx context.Context, c client.Reader, organization string) (*v1alpha1.OrganizationClaim, error) {
	claim := &v1alpha1.OrganizationClaim{}
	err := c.Get(ctx, types.NamespacedName{Name: organization}, claim)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading OrganizationClaim %s: %w", organization, err)
	}
	return claim, nil
}

// LiveHolder returns the EnterpriseIdentity holding a claim, or nil when the claim is free: no
// holder, a holder that was deleted (or recreated, so its UID differs), or a holder outside the
// claim's namespace (a cluster administrator moved the organization).
func LiveHolder(ctx context.Context, c client.Reader, claim *v1alpha1.OrganizationClaim) (*v1alpha1.EnterpriseIdentity, error) {
	h := claim.Spec.Holder
	if h == nil || h.Namespace != claim.Spec.Namespace {
		return nil, nil
	}
	identity := &v1alpha1.EnterpriseIdentity{}
	err := c.Get(ctx, types.NamespacedName{Namespace: h.Namespace, Name: h.Name}, identity)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading EnterpriseIdentity %s/%s: %w", h.Namespace, h.Name, err)
	}
	if string(identity.UID) != h.UID || identity.Spec.Organization != claim.Name {
		return nil, nil
	}
	return identity, nil
}

// HeldBy returns the claim of the identity's organization when the identity holds it.
func HeldBy(ctx context.Context, c client.Reader, identity *v1alpha1.EnterpriseIdentity) (*v1alpha1.OrganizationClaim, bool, error) {
	claim, err := Get(ctx, c, identity.Spec.Organization)
	if err != nil || claim == nil {
		return claim, false, err
	}
	return claim, claim.HeldBy(identity), nil
}

// ChosenIntegration returns the ScimIntegration that provisions an identity's organization: the
// oldest of those naming it (then the first by name), ignoring those being deleted.
func ChosenIntegration(ctx context.Context, c client.Reader, namespace, identity string) (*v1alpha1.ScimIntegration, error) {
	list := &v1alpha1.ScimIntegrationList{}
	if err := c.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{index.IdentityRef: identity}); err != nil {
		return nil, fmt.Errorf("listing ScimIntegrations of %s/%s: %w", namespace, identity, err)
	}
	var chosen *v1alpha1.ScimIntegration
	for i := range list.Items {
		s := &list.Items[i]
		if s.DeletionTimestamp.IsZero() && (chosen == nil || Earlier(s, chosen)) {
			chosen = s
		}
	}
	return chosen, nil
}

// Earlier orders claimants: the older object first, then by namespace and name.
func Earlier(a, b client.Object) bool {
	ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !ta.Equal(&tb) {
		return ta.Before(&tb)
	}
	if a.GetNamespace() != b.GetNamespace() {
		return a.GetNamespace() < b.GetNamespace()
	}
	return a.GetName() < b.GetName()
}
