package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrganizationClaimSpec says which namespace an organization slug, and its SCIM data, belong to,
// and which EnterpriseIdentity holds it now.
type OrganizationClaimSpec struct {
	// namespace is the namespace whose EnterpriseIdentity may hold the organization, and where
	// its SCIM data belongs. The operator sets it when the claim is first taken. Changing it needs
	// rights on this cluster-scoped object: it hands the organization, with its retained users,
	// groups and audit log, to another namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// holder is the EnterpriseIdentity holding the claim; empty while the organization is
	// released (its EnterpriseIdentity was deleted and its data retained). Written by the operator.
	// +optional
	Holder *ClaimHolder `json:"holder,omitempty"`

	// adoptDataOf is the UID of an earlier OrganizationClaim of the same organization whose data
	// the store still holds (the claim object was deleted while data was retained). Setting it
	// is the explicit act that lets this claim take that data over; without it the data is never
	// served under a new claim.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	AdoptDataOf string `json:"adoptDataOf,omitempty"`
}

// ClaimHolder names the EnterpriseIdentity holding an organization.
type ClaimHolder struct {
	// namespace of the EnterpriseIdentity.
	// +required
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`
	// name of the EnterpriseIdentity.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// uid of the EnterpriseIdentity, so a recreated object of the same name claims anew.
	// +required
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=orgclaim,categories=enterprise-identity
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.namespace`
// +kubebuilder:printcolumn:name="Holder",type=string,JSONPath=`.spec.holder.name`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// OrganizationClaim records, cluster-wide, who holds an organization slug. Its name is the slug;
// the operator creates it when an EnterpriseIdentity first claims the organization, and the
// creation is the atomic step that decides between claimants. Namespaced users cannot create,
// change or delete it: moving an organization between namespaces is a cluster administrator's act.
type OrganizationClaim struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is who the organization belongs to.
	// +required
	Spec OrganizationClaimSpec `json:"spec"`
}

// HeldBy says whether the claim is held by this EnterpriseIdentity.
func (c *OrganizationClaim) HeldBy(identity *EnterpriseIdentity) bool {
	h := c.Spec.Holder
	return h != nil && h.UID == string(identity.UID) && h.Namespace == identity.Namespace &&
		h.Name == identity.Name && c.Spec.Namespace == identity.Namespace
}

// +kubebuilder:object:root=true

// OrganizationClaimList contains a list of OrganizationClaim.
type OrganizationClaimList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []OrganizationClaim `json:"items"`
}
