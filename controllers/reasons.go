package controllers

// Condition reasons, UpperCamel as the Kubernetes API conventions ask.
const (
	ReasonReady            = "Ready"
	ReasonValidated        = "Validated"
	ReasonCertExpiresSoon  = "CertificateExpiresSoon"
	ReasonConflict         = "Conflict"
	ReasonIdentityNotFound = "IdentityNotFound"
	ReasonWaitingForSSO    = "WaitingForSSO"
	ReasonIdentityConflict = "IdentityConflict"
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
	managedByLabel          = "app.kubernetes.io/managed-by"
	managedByValue          = "enterprise-identity-operator"
	organizationLabel       = "enterprise.z8z8.io/organization"
	scimDataFinalizer       = "enterprise.z8z8.io/scim-data"
	endpointObjectSuffix    = "-scim"
)
