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
	// ConditionPolicyReady is True when everything the provisioning policy names exists (the
	// default RoleTemplate).
	ConditionPolicyReady = "PolicyReady"
	// ConditionDeprovisioningHeld is True while the mass-deprovisioning guard holds deprovisionings
	// for an admin to release.
	ConditionDeprovisioningHeld = "DeprovisioningHeld"
	// ConditionErrorBurst is True while the endpoint refuses or fails many requests (at least 20
	// in five minutes): a misconfigured identity provider, a wrong token, a broken mapping.
	ConditionErrorBurst = "ErrorBurst"
	// ConditionRateLimitCapped is True while spec.rateLimit asks more than the installation allows
	// one organization (the manager's --max-organization-rate-limit and --max-organization-burst);
	// the installation's maximum applies. Absent when it does not.
	ConditionRateLimitCapped = "RateLimitCapped"
)

// Annotations shared by the operator, the data plane and users.
const (
	// AnnotationTokenAcknowledged on a generated token Secret says the plaintext was copied;
	// the controller then removes the plaintext and keeps only its hash.
	AnnotationTokenAcknowledged = "enterprise.z8z8.io/token-acknowledged" //nolint:gosec // an annotation name, not a credential
	// AnnotationRotateToken on a ScimIntegration asks for a new token without changing its spec:
	// every new value (the wizard and the admin API count up) rotates once. GitOps tools leave an
	// annotation they do not manage alone, so a sync neither undoes nor refuses it;
	// spec.token.rotation stays the declarative way for those who rotate in Git.
	AnnotationRotateToken = "enterprise.z8z8.io/rotate-token" //nolint:gosec // an annotation name, not a credential
	// AnnotationReleasedAt on an OrganizationClaim is the RFC 3339 time its holder released it.
	// A released claim without data stays with its namespace for a while after that
	// (--released-organization-grace), for the namespace's next EnterpriseIdentity.
	AnnotationReleasedAt = "enterprise.z8z8.io/released-at"
	// AnnotationDataDeletedAt on a released OrganizationClaim is the RFC 3339 time a
	// ScimIntegration with deletionPolicy Delete deleted its data; the claim is then freed.
	AnnotationDataDeletedAt = "enterprise.z8z8.io/data-deleted-at"
	// AnnotationRotationRequest on a token Secret is the rotate-token request its token answers.
	AnnotationRotationRequest = "enterprise.z8z8.io/rotation-request"
	// AnnotationTokenLastUsedAt on a token Secret is the RFC 3339 time the data plane last
	// accepted the token.
	AnnotationTokenLastUsedAt = "enterprise.z8z8.io/token-last-used-at" //nolint:gosec // an annotation name, not a credential
)

// The token Secret the operator generates for a ScimIntegration: "token" holds the plaintext only
// until it is acknowledged; the data plane compares presented tokens with "sha256" and, during a
// rotation overlap, "previous-sha256".
const (
	TokenSecretSuffix       = "-scim-token"
	SecretKeyToken          = "token"
	SecretKeySHA256         = "sha256"
	SecretKeyPreviousSHA256 = "previous-sha256"
	// AnnotationRotation is the spec.token.rotation the token was issued for.
	AnnotationRotation = "enterprise.z8z8.io/rotation"
	// AnnotationIssuedAt is when the token was issued (RFC 3339).
	AnnotationIssuedAt = "enterprise.z8z8.io/issued-at"
	// AnnotationPreviousValidUntil is when the previous token's overlap window ends (RFC 3339).
	AnnotationPreviousValidUntil = "enterprise.z8z8.io/previous-valid-until"
)

// TokenSecretName is the name of the Secret generated for a ScimIntegration.
func TokenSecretName(scimName string) string { return scimName + TokenSecretSuffix }

// Finalizers.
const (
	// FinalizerOrganizationClaim on an EnterpriseIdentity releases its OrganizationClaim.
	FinalizerOrganizationClaim = "enterprise.z8z8.io/organization-claim"
	// FinalizerOrganizationData on an OrganizationClaim deletes the data it owns when a cluster
	// administrator deletes a released claim.
	FinalizerOrganizationData = "enterprise.z8z8.io/organization-data"
	// FinalizerSCIMData on a ScimIntegration applies its deletionPolicy to the organization's
	// SCIM data in the store.
	FinalizerSCIMData = "enterprise.z8z8.io/scim-data"
	// FinalizerEventDelivery on an EventSubscription forgets its delivery state in the store.
	FinalizerEventDelivery = "enterprise.z8z8.io/event-delivery"
)
