package controllers

import (
	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
)

// Condition reasons, UpperCamel as the Kubernetes API conventions ask.
const (
	ReasonReady            = "Ready"
	ReasonValidated        = "Validated"
	ReasonCertExpiresSoon  = "CertificateExpiresSoon"
	ReasonConflict         = v1alpha1.ReasonConflict
	ReasonIdentityNotFound = "IdentityNotFound"
	ReasonWaitingForSSO    = "WaitingForSSO"
	ReasonIdentityConflict = v1alpha1.ReasonIdentityConflict
	ReasonRetained         = v1alpha1.ReasonOrganizationRetained
	ReasonDataOwned        = v1alpha1.ReasonDataOwnedByAnotherClaim
	ReasonIssued           = "Issued"
	ReasonBringYourOwn     = "BringYourOwnToken"
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretNotOwned   = "SecretNotOwned"
	ReasonTokenInvalid     = "TokenInvalid"
	ReasonTokenExpired     = "TokenExpired"
	ReasonServing          = "Serving"
	ReasonNotServing       = "DataPlaneNotServing"
	ReasonIngressNotOwned  = "IngressNotOwned"
	ReasonDisabled         = "Disabled"
	ReasonReconciling      = "Reconciling"
)

// Event reasons (transitions only).
const (
	EventSSOValidated       = "SSOValidated"
	EventSSOFailed          = "SSOValidationFailed"
	EventCertExpiresSoon    = "SigningCertificateExpiresSoon"
	EventConflict           = "OrganizationConflict"
	EventClaimed            = "OrganizationClaimed"
	EventReleased           = "OrganizationReleased"
	EventRetained           = "OrganizationRetained"
	EventTokenIssued        = "TokenIssued"
	EventTokenRotated       = "TokenRotated"
	EventTokenAcked         = "TokenAcknowledged"
	EventTokenExpired       = "TokenExpired"
	EventEndpointReady      = "EndpointReady"
	EventDataDeleted        = "ScimDataDeleted"
	EventIdPConnected       = "IdentityProviderConnected"
	EventDeprovisioningHeld = "DeprovisioningHeld"
	EventErrorBurst         = "ScimErrorBurst"
	EventObjectNotOwned     = "ObjectNotOwned"
	actionReconcile         = "Reconcile"
	fieldOwner              = "enterprise-identity-operator"
	managedByLabel          = secrets.ManagedByLabel // the manager caches only Secrets with it
	managedByValue          = secrets.ManagedByValue
	organizationLabel       = "enterprise.z8z8.io/organization"
	scimDataFinalizer       = "enterprise.z8z8.io/scim-data"
	endpointObjectSuffix    = "-scim"
)
