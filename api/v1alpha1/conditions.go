package v1alpha1

// Condition types reported by the operator's kinds.
const (
	// ConditionReady summarises an object: True when everything it asks for is in place.
	ConditionReady = "Ready"
	// ConditionSSOReady is True when the organization's SSO configuration was validated.
	ConditionSSOReady = "SSOReady"
	// ConditionTokenIssued is True when a usable SCIM bearer token exists.
	ConditionTokenIssued = "TokenIssued"
	// ConditionEndpointReady is True when the SCIM data plane serves the organization.
	ConditionEndpointReady = "EndpointReady"
)

// Annotations shared by the operator, the data plane and users.
const (
	// AnnotationTokenAcknowledged on a generated token Secret says the plaintext was copied;
	// the controller then removes the plaintext and keeps only its hash.
	AnnotationTokenAcknowledged = "enterprise.z8z8.io/token-acknowledged" //nolint:gosec // an annotation name, not a credential
	// AnnotationTokenLastUsedAt on a token Secret is the RFC 3339 time the data plane last
	// accepted the token.
	AnnotationTokenLastUsedAt = "enterprise.z8z8.io/token-last-used-at" //nolint:gosec // an annotation name, not a credential
)
