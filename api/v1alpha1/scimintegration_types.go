package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeprovisionAction is what happens to a member when the identity provider deprovisions them.
// +kubebuilder:validation:Enum=Suspend;Deactivate
type DeprovisionAction string

const (
	// DeprovisionSuspend suspends the member's access; the employee record stays active.
	DeprovisionSuspend DeprovisionAction = "Suspend"
	// DeprovisionDeactivate deactivates the employee record and removes the member's access.
	DeprovisionDeactivate DeprovisionAction = "Deactivate"
)

// DeletionPolicy says what happens to an organization's SCIM data when its ScimIntegration is
// deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionPolicyRetain keeps users, groups, members and audit events in the store.
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete removes the organization's SCIM data from the store, unless another
	// ScimIntegration of the same EnterpriseIdentity has taken the organization over.
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// ScimIntegrationSpec describes SCIM provisioning for one organization.
type ScimIntegrationSpec struct {
	// identityRef names the EnterpriseIdentity (in this namespace) whose organization is
	// provisioned. It cannot be changed once set.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="identityRef is immutable: create a new ScimIntegration for another organization"
	IdentityRef LocalRef `json:"identityRef"`

	// enabled turns provisioning on. When false the endpoint answers 403 and nothing changes;
	// the token and all data are kept.
	// +optional
	// +kubebuilder:default=true
	Enabled *bool `json:"enabled,omitempty"`

	// provisioning is the organization's lifecycle policy for provisioned people.
	// +optional
	// +kubebuilder:default={}
	Provisioning ProvisioningSpec `json:"provisioning,omitempty"`

	// token configures the bearer token the identity provider presents.
	// +optional
	// +kubebuilder:default={}
	Token TokenSpec `json:"token,omitempty"`

	// endpoint configures how the SCIM endpoint is exposed.
	// +optional
	Endpoint EndpointSpec `json:"endpoint,omitempty"`

	// audit configures the SCIM audit log.
	// +optional
	// +kubebuilder:default={}
	Audit AuditSpec `json:"audit,omitempty"`

	// events configures the provisioning events applications read (the Events API) or receive
	// (EventSubscription).
	// +optional
	// +kubebuilder:default={}
	Events EventsSpec `json:"events,omitempty"`

	// rateLimit bounds the identity provider's requests to this organization. Requests over it
	// get 429 with Retry-After, which Entra ID and Okta honour by waiting and retrying. The limit
	// holds per data plane replica: with N replicas the organization may send up to N times it.
	// +optional
	// +kubebuilder:default={}
	RateLimit RateLimitSpec `json:"rateLimit,omitempty"`

	// deletionPolicy says what happens to the organization's SCIM data (users, groups, members,
	// audit events) when this object is deleted: Retain keeps it, Delete removes it unless
	// another ScimIntegration of the same EnterpriseIdentity serves it by then (whose own
	// deletionPolicy then applies).
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// LocalRef names an object in the same namespace.
type LocalRef struct {
	// name of the object.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// ProvisioningMode says whether provisioning changes members.
// +kubebuilder:validation:Enum=Enforce;DryRun
type ProvisioningMode string

const (
	// ProvisioningEnforce applies the lifecycle policy to members and employee records.
	ProvisioningEnforce ProvisioningMode = "Enforce"
	// ProvisioningDryRun stores SCIM resources but only records, in the audit log, the member
	// changes it would make.
	ProvisioningDryRun ProvisioningMode = "DryRun"
)

// ProvisioningSpec is the lifecycle policy applied to provisioned people.
type ProvisioningSpec struct {
	// mode is Enforce (members and employee records follow the identity provider) or DryRun (SCIM
	// resources are stored, and the member changes that would be made are only written to the
	// audit log) — for trying a new identity provider connection safely.
	// +optional
	// +kubebuilder:default=Enforce
	Mode ProvisioningMode `json:"mode,omitempty"`

	// autoActivate makes newly provisioned members Active at once. When false they wait in
	// PendingReview until an admin approves them.
	// +optional
	// +kubebuilder:default=true
	AutoActivate *bool `json:"autoActivate,omitempty"`

	// deprovision says what deactivation (active=false) and deletion (DELETE) by the identity
	// provider do to a member.
	// +optional
	// +kubebuilder:default={}
	Deprovision DeprovisionSpec `json:"deprovision,omitempty"`

	// defaultRoleTemplate names a RoleTemplate in this namespace given to new members.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	DefaultRoleTemplate string `json:"defaultRoleTemplate,omitempty"`

	// groupRoles give members of identity provider groups a role: the first mapping (in this
	// order) whose group the member belongs to wins; members of no mapped group get
	// defaultRoleTemplate. Roles follow group membership changes.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=100
	GroupRoles []GroupRoleMapping `json:"groupRoles,omitempty"`
}

// GroupRoleMapping maps an identity provider group to a RoleTemplate.
type GroupRoleMapping struct {
	// group is the SCIM group's displayName (case-insensitive) or externalId.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Group string `json:"group"`

	// roleTemplate names a RoleTemplate in this namespace.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	RoleTemplate string `json:"roleTemplate"`
}

// DeprovisionSpec maps identity provider lifecycle events to actions.
type DeprovisionSpec struct {
	// onDeactivate is the action when the identity provider sets active=false: Suspend (access
	// suspended, employee record kept active) or Deactivate (employee record deactivated).
	// +optional
	// +kubebuilder:default=Suspend
	OnDeactivate DeprovisionAction `json:"onDeactivate,omitempty"`

	// onDelete is the action when the identity provider deletes the user: Suspend or Deactivate.
	// The SCIM resource is gone either way; the employee record and its history remain.
	// +optional
	// +kubebuilder:default=Deactivate
	OnDelete DeprovisionAction `json:"onDelete,omitempty"`

	// maxPerHour guards against an identity provider suddenly removing many people (a broken
	// assignment rule, a deleted group): once this many members were deprovisioned in the last
	// hour, further deprovisionings are held — the IdP still sees its SCIM change, but members keep
	// their access — until an admin releases them (DeprovisioningHeld condition). Off when unset.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxPerHour *int32 `json:"maxPerHour,omitempty"`
}

// TokenSpec configures the SCIM bearer token.
type TokenSpec struct {
	// rotation is a counter: raising it issues a new token. The previous token stays valid for
	// the overlap window so the identity provider can be switched without downtime.
	// +optional
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:XValidation:rule="self >= oldSelf",message="token.rotation can only increase"
	Rotation int64 `json:"rotation,omitempty"`

	// overlap is how long the previous token stays valid after a rotation, for example 24h.
	// At most 720h (30 days).
	// +optional
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s') && duration(self) <= duration('720h')",message="token.overlap must be between 0s and 720h"
	Overlap *metav1.Duration `json:"overlap,omitempty"`

	// expiresAfter, when set, makes each token stop working this long after it was issued, for
	// example 2160h (90 days). Raise rotation to issue a new one. At least 1h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="token.expiresAfter must be at least 1h"
	ExpiresAfter *metav1.Duration `json:"expiresAfter,omitempty"`

	// secretRef brings your own token: the operator reads the token from this Secret (in this
	// namespace, for example managed by Sealed Secrets or External Secrets) instead of
	// generating one, and never changes or deletes it. rotation and expiresAfter do not apply.
	// +optional
	SecretRef *TokenSecretRef `json:"secretRef,omitempty"`
}

// TokenSecretRef selects a user-managed Secret holding a bearer token.
type TokenSecretRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Name string `json:"name"`

	// key holding the token; at least 32 characters of it.
	// +optional
	// +kubebuilder:default=token
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// EndpointSpec configures how the SCIM endpoint is reached from outside the cluster.
type EndpointSpec struct {
	// ingress, when enabled, makes the operator create an Ingress routing
	// /scim/v2/{organization} on host to the operator's data plane.
	// +optional
	Ingress IngressSpec `json:"ingress,omitempty"`
}

// IngressSpec describes the per-organization Ingress.
// +kubebuilder:validation:XValidation:rule="!has(self.enabled) || !self.enabled || has(self.host)",message="endpoint.ingress.host is required when the ingress is enabled"
type IngressSpec struct {
	// enabled creates the Ingress.
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// className is the IngressClass to use; the cluster default when empty.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	ClassName string `json:"className,omitempty"`

	// host is the public host name the identity provider calls, for example scim.example.com.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	Host string `json:"host,omitempty"`

	// tlsSecretName is a Secret in this namespace holding the TLS certificate for host. When set
	// the base URL is https.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	TLSSecretName string `json:"tlsSecretName,omitempty"`

	// annotations are added to the Ingress (for example cert-manager or rate-limit settings): at
	// most 32, their keys and values at most 4096 characters in all, which is what the operator
	// keeps of its Ingresses' annotations to compare them with these.
	// +optional
	// +kubebuilder:validation:MaxProperties=32
	// +kubebuilder:validation:XValidation:rule="self.map(k, size(k) + size(self[k])).sum() <= 4096",message="endpoint.ingress.annotations must be at most 4096 characters in all, keys and values"
	Annotations map[string]string `json:"annotations,omitempty"`
}

// AuditSpec configures the SCIM audit log.
type AuditSpec struct {
	// retention is how long audit events are kept, for example 2160h (90 days). At least 1h.
	// +optional
	// +kubebuilder:default="2160h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="audit.retention must be at least 1h"
	Retention *metav1.Duration `json:"retention,omitempty"`
}

// EventsSpec configures an organization's provisioning events.
type EventsSpec struct {
	// retention is how long events are kept, for example 720h (30 days). At least 1h.
	// +optional
	// +kubebuilder:default="720h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1h')",message="events.retention must be at least 1h"
	Retention *metav1.Duration `json:"retention,omitempty"`
}

// RateLimitSpec is a token bucket: requestsPerSecond sustained, burst at once, per replica. The
// installation may allow an organization less (the manager's --max-organization-rate-limit and
// --max-organization-burst, Helm's maxOrganizationRateLimit: 1,000 per second and a burst of 2,000
// by default); the RateLimitCapped condition then says what is served.
type RateLimitSpec struct {
	// requestsPerSecond is the sustained rate of requests accepted. The default, 100, is four
	// times the 25 per second Microsoft asks gallery SCIM endpoints to sustain: an initial sync of
	// 100,000 users (a lookup and a create each, then manager and group updates, about 300,000
	// requests) takes under an hour at it.
	// +optional
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	RequestsPerSecond *int32 `json:"requestsPerSecond,omitempty"`

	// burst is how many requests may arrive at once above the sustained rate.
	// +optional
	// +kubebuilder:default=200
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100000
	Burst *int32 `json:"burst,omitempty"`
}

// ScimIntegrationStatus is what the operator observed of a ScimIntegration.
type ScimIntegrationStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: SSOReady (the EnterpriseIdentity is ready), TokenIssued, EndpointReady (the
	// data plane serves the organization) and Ready (all of them).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// organization is the slug this integration provisions: set while its EnterpriseIdentity
	// holds the organization's OrganizationClaim, kept after that identity is deleted while the
	// organization's data stays in this namespace, and empty otherwise.
	// +optional
	Organization string `json:"organization,omitempty"`

	// baseURL is the SCIM base URL to give the identity provider.
	// +optional
	BaseURL string `json:"baseURL,omitempty"`

	// token describes the current bearer token. It never contains the token itself.
	// +optional
	Token *TokenStatus `json:"token,omitempty"`

	// provisioning summarises provisioning activity.
	// +optional
	Provisioning *ProvisioningStatus `json:"provisioning,omitempty"`
}

// TokenStatus describes the bearer token without revealing it.
type TokenStatus struct {
	// secretName is the Secret holding the token (and its SHA-256 hash).
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// secretUID is the UID of the token Secret the operator created. Only that Secret is served:
	// a replacement of the same name, or any other Secret pointing at this integration, is not.
	// +optional
	SecretUID string `json:"secretUID,omitempty"`

	// fingerprint is the first 12 hex characters of the token's SHA-256 hash, to tell tokens
	// apart in logs and the audit trail.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// rotation is the spec.token.rotation the current token was issued for.
	// +optional
	Rotation int64 `json:"rotation,omitempty"`

	// rotationRequest is the enterprise.z8z8.io/rotate-token request (from the wizard or the admin
	// API) the current token answers.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RotationRequest string `json:"rotationRequest,omitempty"`

	// issuedAt is when the current token was issued.
	// +optional
	IssuedAt *metav1.Time `json:"issuedAt,omitempty"`

	// expiresAt is when the current token stops working, if it expires.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// lastUsedAt is when the data plane last accepted the token.
	// +optional
	LastUsedAt *metav1.Time `json:"lastUsedAt,omitempty"`

	// retrievable is true while the plaintext token can still be read from the Secret (once);
	// it becomes false when the token is acknowledged.
	// +optional
	Retrievable bool `json:"retrievable,omitempty"`

	// previousValidUntil is when the token replaced by the last rotation stops working.
	// +optional
	PreviousValidUntil *metav1.Time `json:"previousValidUntil,omitempty"`
}

// ProvisioningStatus summarises provisioning activity; filled by the data plane.
type ProvisioningStatus struct {
	// members counts members per state (Active, PendingReview, Suspended, Deactivated).
	// +optional
	Members map[string]int64 `json:"members,omitempty"`

	// groups is the number of provisioned groups.
	// +optional
	Groups int64 `json:"groups,omitempty"`

	// lastRequestAt is when the identity provider last called the endpoint with a valid token
	// (refused requests, which anyone can send, are lastError's).
	// +optional
	LastRequestAt *metav1.Time `json:"lastRequestAt,omitempty"`

	// connectionVerifiedAt is when the identity provider first reached the endpoint with a valid
	// token (its "Test Connection").
	// +optional
	ConnectionVerifiedAt *metav1.Time `json:"connectionVerifiedAt,omitempty"`

	// lastSuccessAt is when a request last succeeded.
	// +optional
	LastSuccessAt *metav1.Time `json:"lastSuccessAt,omitempty"`

	// lastClient is the User-Agent of the last request with a valid token, e.g. "Okta SCIM Client
	// 1.0.0".
	// +optional
	LastClient string `json:"lastClient,omitempty"`

	// lastError is the last refused or failed request.
	// +optional
	LastError *ProvisioningError `json:"lastError,omitempty"`
}

// ProvisioningError describes a refused or failed SCIM request.
type ProvisioningError struct {
	// time of the request.
	Time metav1.Time `json:"time"`
	// status is the HTTP status answered.
	Status int32 `json:"status"`
	// scimType is the SCIM error type, when there is one.
	// +optional
	ScimType string `json:"scimType,omitempty"`
	// detail is the error detail the client was given.
	// +optional
	Detail string `json:"detail,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=scim,categories=enterprise-identity
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.status.organization`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Base URL",type=string,JSONPath=`.status.baseURL`
// +kubebuilder:printcolumn:name="Token",type=string,JSONPath=`.status.token.fingerprint`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ScimIntegration turns on SCIM 2.0 provisioning for the organization of an EnterpriseIdentity:
// an organization-scoped endpoint, a bearer token kept in a Secret and shown once, and the
// lifecycle policy applied to provisioned people.
type ScimIntegration struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired SCIM provisioning configuration.
	// +required
	Spec ScimIntegrationSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status ScimIntegrationStatus `json:"status,omitempty"`
}

// IsEnabled reports whether provisioning is switched on (the default).
func (s *ScimIntegration) IsEnabled() bool {
	return s.Spec.Enabled == nil || *s.Spec.Enabled
}

// +kubebuilder:object:root=true

// ScimIntegrationList contains a list of ScimIntegration.
type ScimIntegrationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScimIntegration `json:"items"`
}
