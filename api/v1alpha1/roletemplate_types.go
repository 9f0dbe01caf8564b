package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RoleTemplateSpec describes a named role that provisioned members can be given.
type RoleTemplateSpec struct {
	// displayName is the role's name as admins see it, for example "Engineer".
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName"`

	// description says what the role is for.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Description string `json:"description,omitempty"`

	// permissions the role grants, as application-defined names such as "projects:read".
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +kubebuilder:validation:items:Pattern=`^[A-Za-z0-9][A-Za-z0-9._:*/-]*$`
	Permissions []string `json:"permissions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:categories=enterprise-identity
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// RoleTemplate is a named set of permissions that provisioned members of the organizations in
// this namespace can be given, by default (ScimIntegration.spec.provisioning.defaultRoleTemplate)
// or through group mappings.
type RoleTemplate struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the role.
	// +required
	Spec RoleTemplateSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// RoleTemplateList contains a list of RoleTemplate.
type RoleTemplateList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []RoleTemplate `json:"items"`
}
