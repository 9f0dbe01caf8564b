// Package v1alpha1 contains the API of the Enterprise Identity Operator: EnterpriseIdentity,
// ScimIntegration and RoleTemplate in the enterprise.z8z8.io group.
// +kubebuilder:object:generate=true
// +groupName=enterprise.z8z8.io
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "enterprise.z8z8.io", Version: "v1alpha1"}

	// SchemeBuilder is used to add go types to the GroupVersionKind scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
