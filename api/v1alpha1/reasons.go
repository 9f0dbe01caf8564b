package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition reasons, UpperCamel as the Kubernetes API conventions ask. The controllers write them,
// and the data plane and the wizard read them through the helpers below, never by comparing text
// of their own.
const (
	// Any condition.
	ReasonReady       = "Ready"
	ReasonReconciling = "Reconciling"

	// An organization claim (Ready of an EnterpriseIdentity, SSOReady of a ScimIntegration).

	// ReasonConflict: another EnterpriseIdentity holds the organization slug.
	ReasonConflict = "Conflict"
	// ReasonOrganizationRetained: the organization was released by another namespace, which
	// keeps its data; only a cluster administrator can hand it over (OrganizationClaim spec.namespace).
	ReasonOrganizationRetained = "OrganizationRetained"
	// ReasonNamespaceOrganizationLimit: the namespace's EnterpriseIdentities hold as many
	// organizations as the installation allows one namespace (--max-organizations-per-namespace).
	ReasonNamespaceOrganizationLimit = "NamespaceOrganizationLimit"
	// ReasonIdentityConflict: a ScimIntegration's EnterpriseIdentity does not hold its organization.
	ReasonIdentityConflict = "IdentityConflict"
	// ReasonDataOwnedByAnotherClaim: the store holds the organization's data for an earlier claim.
	ReasonDataOwnedByAnotherClaim = "DataOwnedByAnotherClaim"
	// ReasonOrganizationDataBeingDeleted: the store is still deleting the organization's earlier
	// data (a deletion runs a part at a time); binding waits for it.
	ReasonOrganizationDataBeingDeleted = "OrganizationDataBeingDeleted"

	// SSOReady of an EnterpriseIdentity.
	ReasonValidated              = "Validated"
	ReasonCertificateExpiresSoon = "CertificateExpiresSoon"
	ReasonDiscoveryFailed        = "DiscoveryFailed"
	ReasonIssuerMismatch         = "IssuerMismatch"
	ReasonNoSigningKeys          = "NoSigningKeys"
	ReasonClientSecretMissing    = "ClientSecretMissing"
	ReasonMetadataUnavailable    = "MetadataUnavailable"
	ReasonMetadataInvalid        = "MetadataInvalid"
	ReasonNoIdentityProvider     = "NoIdentityProvider"
	ReasonNoSigningCertificate   = "NoSigningCertificate"
	ReasonCertificateExpired     = "CertificateExpired"
	// ReasonURLNotAllowed: an SSO URL points at an address the operator does not call.
	ReasonURLNotAllowed = "URLNotAllowed"

	// SSOReady of a ScimIntegration.
	ReasonIdentityNotFound = "IdentityNotFound"
	ReasonWaitingForSSO    = "WaitingForSSO"

	// TokenIssued.
	ReasonIssued            = "Issued"
	ReasonBringYourOwnToken = "BringYourOwnToken"
	ReasonSecretNotFound    = "SecretNotFound"
	ReasonSecretNotOwned    = "SecretNotOwned"
	// ReasonSecretRefused: the API server refused the token Secret (a namespace's quota, an
	// admission policy); the message quotes it.
	ReasonSecretRefused = "SecretRefused"
	ReasonTokenInvalid  = "TokenInvalid"
	ReasonTokenExpired  = "TokenExpired"

	// EndpointReady.
	ReasonServing             = "Serving"
	ReasonDataPlaneNotServing = "DataPlaneNotServing"
	ReasonIngressNotOwned     = "IngressNotOwned"
	// ReasonRoutingInvalid: the API server refused the Ingress or Service the endpoint needs (a
	// ScimIntegration name that makes no Service name, an annotation key it refuses).
	ReasonRoutingInvalid = "RoutingInvalid"
	ReasonDisabled       = "Disabled"
	// ReasonNotChecked: an earlier step stopped the pass, so the endpoint was not checked; an
	// EndpointReady that said True no longer does.
	ReasonNotChecked = "NotChecked"

	// PolicyReady.
	ReasonPolicyValid          = "Valid"
	ReasonRoleTemplateNotFound = "RoleTemplateNotFound"

	// ErrorBurst.
	ReasonFewErrors  = "Normal"
	ReasonManyErrors = "ManyErrors"

	// DeprovisioningHeld.
	ReasonHeld    = "Held"
	ReasonNotHeld = "NotHeld"

	// RateLimitCapped.
	ReasonAboveInstallationMaximum = "AboveInstallationMaximum"
)

// IsTransientReason says a condition is set while the operator is still at work, not because
// something is wrong.
func IsTransientReason(reason string) bool {
	return reason == ReasonReconciling || reason == ReasonDataPlaneNotServing
}

// HeldElsewhere returns the identity's Ready condition when it says the organization is held by
// another EnterpriseIdentity, kept by another namespace, or refused for the namespace's limit of
// organizations (nil otherwise), for the current spec.
func (e *EnterpriseIdentity) HeldElsewhere() *metav1.Condition {
	c := meta.FindStatusCondition(e.Status.Conditions, ConditionReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.ObservedGeneration != e.Generation ||
		(c.Reason != ReasonConflict && c.Reason != ReasonOrganizationRetained && c.Reason != ReasonNamespaceOrganizationLimit) {
		return nil
	}
	return c
}

// Serving says the data plane serves the integration's organization: status.organization is set
// only while its EnterpriseIdentity holds the organization's claim.
func (s *ScimIntegration) Serving() bool { return s.Status.Organization != "" }
