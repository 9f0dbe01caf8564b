package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EnterpriseIdentitySpec describes an organization and how its people sign in.
type EnterpriseIdentitySpec struct {
	// organization is the organization's slug: a DNS label (lowercase letters, digits and '-',
	// at most 63 characters) that is unique in the cluster. It names the organization's SCIM
	// endpoint (/scim/v2/{organization}) and cannot be changed once set.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="organization is immutable: create a new EnterpriseIdentity to use another slug"
	Organization string `json:"organization"`

	// displayName is the organization's name as people know it.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	DisplayName string `json:"displayName,omitempty"`

	// domains are the email domains the organization owns, for example example.com.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z]{2,63}$`
	Domains []string `json:"domains,omitempty"`

	// sso is the organization's single sign-on configuration. SSO is configured first; SCIM
	// provisioning waits until it is validated.
	// +required
	SSO SSOSpec `json:"sso"`
}

// SSOSpec holds exactly one single sign-on protocol.
// +kubebuilder:validation:XValidation:rule="has(self.oidc) != has(self.saml)",message="sso must set exactly one of oidc or saml"
type SSOSpec struct {
	// oidc configures OpenID Connect sign-in.
	// +optional
	OIDC *OIDCSpec `json:"oidc,omitempty"`

	// saml configures SAML 2.0 sign-in.
	// +optional
	SAML *SAMLSpec `json:"saml,omitempty"`
}

// OIDCSpec configures an OpenID Connect identity provider.
type OIDCSpec struct {
	// issuerURL is the provider's issuer, for example https://login.example.com/oauth2/default.
	// The operator reads <issuerURL>/.well-known/openid-configuration and checks that the issuer
	// it declares is this URL and that it publishes signing keys.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	IssuerURL string `json:"issuerURL"`

	// clientID is the client (application) ID registered with the provider.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	ClientID string `json:"clientID"`

	// clientSecretRef selects the key of a Secret in this namespace that holds the client secret.
	// The secret itself never appears in this object.
	// +required
	// +kubebuilder:validation:XValidation:rule="self.name != ''",message="clientSecretRef.name must name a Secret"
	// +kubebuilder:validation:XValidation:rule="size(self.name) <= 253 && self.name.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="clientSecretRef.name must be a Secret name (lower-case letters, digits, '-' and '.')"
	// +kubebuilder:validation:XValidation:rule="size(self.key) <= 253",message="clientSecretRef.key must be at most 253 characters (a Secret's key)"
	ClientSecretRef corev1.SecretKeySelector `json:"clientSecretRef"`
}

// SAMLSpec configures a SAML 2.0 identity provider from its metadata.
// +kubebuilder:validation:XValidation:rule="has(self.metadataURL) != has(self.metadata)",message="saml must set exactly one of metadataURL or metadata"
type SAMLSpec struct {
	// metadataURL is where the identity provider publishes its SAML metadata.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	MetadataURL string `json:"metadataURL,omitempty"`

	// metadata is the identity provider's SAML metadata XML, inline.
	// +optional
	// +kubebuilder:validation:MaxLength=262144
	Metadata string `json:"metadata,omitempty"`

	// entityID is the identity provider's entity ID. When set, the metadata must describe this
	// entity (and it selects one when the metadata lists several); when empty, the metadata must
	// describe exactly one identity provider.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	EntityID string `json:"entityID,omitempty"`
}

// EnterpriseIdentityStatus is what the operator observed of an EnterpriseIdentity.
type EnterpriseIdentityStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: SSOReady (the SSO configuration was validated) and Ready (SSOReady, and this
	// object owns its organization slug; a second claimant is Ready=False with reason Conflict).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// sso is what was learned from the identity provider during validation.
	// +optional
	SSO *SSOStatus `json:"sso,omitempty"`
}

// SSOStatus is what the operator learned from the identity provider.
type SSOStatus struct {
	// protocol is OIDC or SAML.
	// +optional
	Protocol string `json:"protocol,omitempty"`

	// issuer is the OIDC issuer the discovery document declared.
	// +optional
	Issuer string `json:"issuer,omitempty"`

	// idpEntityID is the SAML identity provider's entity ID.
	// +optional
	IdPEntityID string `json:"idpEntityID,omitempty"`

	// ssoURL is the SAML single sign-on service URL (HTTP-Redirect or HTTP-POST binding).
	// +optional
	SSOURL string `json:"ssoURL,omitempty"`

	// signingCertificateNotAfter is when the SAML signing certificate expires. When several are
	// published (a rollover), the latest: sign-in keeps working until then.
	// +optional
	SigningCertificateNotAfter *metav1.Time `json:"signingCertificateNotAfter,omitempty"`

	// lastValidatedAt is when the configuration was last validated successfully.
	// +optional
	LastValidatedAt *metav1.Time `json:"lastValidatedAt,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=eid,categories=enterprise-identity
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.spec.organization`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Protocol",type=string,JSONPath=`.status.sso.protocol`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// EnterpriseIdentity is an organization and its single sign-on configuration. It is configured
// first; a ScimIntegration then adds SCIM provisioning for the organization.
type EnterpriseIdentity struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the desired organization and SSO configuration.
	// +required
	Spec EnterpriseIdentitySpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status EnterpriseIdentityStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// EnterpriseIdentityList contains a list of EnterpriseIdentity.
type EnterpriseIdentityList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EnterpriseIdentity `json:"items"`
}
