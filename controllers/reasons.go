package controllers

import (
	"github.com/z8z8/enterprise-identity-operator/internal/secrets"
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
	EventNamespaceLimit     = "NamespaceOrganizationLimit"
	EventTokenIssued        = "TokenIssued"
	EventTokenRotated       = "TokenRotated"
	EventTokenAcked         = "TokenAcknowledged"
	EventTokenExpired       = "TokenExpired"
	EventEndpointReady      = "EndpointReady"
	EventDataDeleted        = "ScimDataDeleted"
	EventDataKept           = "ScimDataKept"
	EventIdPConnected       = "IdentityProviderConnected"
	EventDeprovisioningHeld = "DeprovisioningHeld"
	EventErrorBurst         = "ScimErrorBurst"
	EventObjectNotOwned     = "ObjectNotOwned"
	actionReconcile         = "Reconcile"
	fieldOwner              = "enterprise-identity-operator"
	managedByLabel          = secrets.ManagedByLabel // the manager caches only Secrets with it
	managedByValue          = secrets.ManagedByValue
	organizationLabel       = secrets.OrganizationLabel
	endpointObjectSuffix    = "-scim"
)
