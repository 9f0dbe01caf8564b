// Package v1alpha1 contains the API of the Enterprise Identity Operator: EnterpriseIdentity,
// ScimIntegration and RoleTemplate in the enterprise.z8z8.io group.
// +kubebuilder:object:generate=true
// +groupName=enterprise.z8z8.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version used to register these objects.
	GroupVersion = schema.GroupVersion{Group: "enterprise.z8z8.io", Version: "v1alpha1"}

	// SchemeBuilder registers this package's kinds; it depends on apimachinery only, so the API
	// package stays cheap to import.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types in this group-version to the given scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&EnterpriseIdentity{}, &EnterpriseIdentityList{},
		&ScimIntegration{}, &ScimIntegrationList{},
		&RoleTemplate{}, &RoleTemplateList{},
		&OrganizationClaim{}, &OrganizationClaimList{},
		&EventSubscription{}, &EventSubscriptionList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
