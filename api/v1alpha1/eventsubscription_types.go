package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EventSubscriptionSpec says which provisioning events go where.
type EventSubscriptionSpec struct {
	// url receives the events: one HTTPS (or, inside the cluster, HTTP) POST per event, signed
	// per the Standard Webhooks specification. Loopback and link-local addresses are refused
	// unless the operator allows them (--allow-outbound-cidrs); cluster-internal ones are allowed.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.startsWith('https://') || self.startsWith('http://')",message="url must be an http(s) URL"
	URL string `json:"url"`

	// organizations are the organizations of this namespace whose events are delivered (empty:
	// all of them). An organization served from another namespace is never delivered here.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	Organizations []string `json:"organizations,omitempty"`

	// types are the event types delivered: exact types such as "member.suspended", or a prefix
	// such as "member.*" (empty: all).
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[a-z_]+(\.([a-z_]+|\*))?$`
	Types []string `json:"types,omitempty"`

	// retryFor is how long an event is retried (exponential backoff with jitter, honouring
	// Retry-After) before it is dead-lettered, for example 72h. At least 1m.
	// +optional
	// +kubebuilder:default="72h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="retryFor must be at least 1m"
	RetryFor *metav1.Duration `json:"retryFor,omitempty"`

	// signingKey brings a signing key ("whsec_" and base64); unset, the operator generates one
	// into the Secret <name>-signing-key (key "signing-key").
	// +optional
	SigningKey *SigningKeySpec `json:"signingKey,omitempty"`

	// paused stops delivery; events wait and are delivered once unpaused (within the
	// organization's event retention).
	// +optional
	Paused bool `json:"paused,omitempty"`
}

// SigningKeySpec names a Secret holding a signing key.
type SigningKeySpec struct {
	// secretRef is the Secret and key holding the signing key.
	// +required
	SecretRef SigningKeySecretRef `json:"secretRef"`
}

// SigningKeySecretRef is a key of a Secret in the subscription's namespace.
type SigningKeySecretRef struct {
	// name of the Secret.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// key holding the signing key.
	// +optional
	// +kubebuilder:default=signing-key
	// +kubebuilder:validation:MaxLength=253
	Key string `json:"key,omitempty"`
}

// EventSubscriptionStatus is how delivery goes.
type EventSubscriptionStatus struct {
	// observedGeneration is the generation last reconciled.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the subscription can deliver) and Degraded (deliveries are failing).
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// signingKey identifies the key requests are signed with.
	// +optional
	SigningKey *SigningKeyStatus `json:"signingKey,omitempty"`

	// delivery summarises delivery over the covered organizations.
	// +optional
	Delivery *DeliveryStatus `json:"delivery,omitempty"`
}

// SigningKeyStatus identifies a signing key without revealing it.
type SigningKeyStatus struct {
	// secretName is the Secret holding the key.
	SecretName string `json:"secretName"`
	// fingerprint is the first 12 hex characters of the key's SHA-256.
	Fingerprint string `json:"fingerprint"`
}

// DeliveryStatus summarises a subscription's delivery.
type DeliveryStatus struct {
	// lastDeliveredAt is when a receiver last acknowledged an event.
	// +optional
	LastDeliveredAt *metav1.Time `json:"lastDeliveredAt,omitempty"`
	// lagSeconds is the age of the oldest event not delivered yet (0: none waiting).
	// +optional
	LagSeconds int64 `json:"lagSeconds,omitempty"`
	// pending counts events waiting for delivery.
	// +optional
	Pending int64 `json:"pending,omitempty"`
	// consecutiveFailures counts failed attempts since the last success.
	// +optional
	ConsecutiveFailures int64 `json:"consecutiveFailures,omitempty"`
	// deadLettered counts events given up on after retryFor; an admin can replay them.
	// +optional
	DeadLettered int64 `json:"deadLettered,omitempty"`
	// lost counts events pruned (past an organization's spec.events.retention) before they were
	// delivered: delivery passed over them. A receiver must rebuild its state (docs/events.md).
	// +optional
	Lost int64 `json:"lost,omitempty"`
	// lastLostAt is when delivery last passed over pruned events.
	// +optional
	LastLostAt *metav1.Time `json:"lastLostAt,omitempty"`
	// lastError is the last failed attempt: a status code or connection error, never a body.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	LastError string `json:"lastError,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=enterprise-identity,shortName=evsub
// +kubebuilder:printcolumn:name="URL",type=string,JSONPath=`.spec.url`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Lag",type=integer,JSONPath=`.status.delivery.lagSeconds`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// EventSubscription delivers the provisioning events of this namespace's organizations to an
// application as signed webhooks, at least once and in order per organization.
type EventSubscription struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is where and what to deliver.
	// +required
	Spec EventSubscriptionSpec `json:"spec"`

	// status is how delivery goes.
	// +optional
	Status EventSubscriptionStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// EventSubscriptionList contains a list of EventSubscription.
type EventSubscriptionList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []EventSubscription `json:"items"`
}

// Condition types of an EventSubscription (Ready is shared).
const (
	// ConditionDegraded: deliveries are failing (consecutive failures), events were
	// dead-lettered, or events were pruned before delivery in the last day.
	ConditionDegraded = "Degraded"
)

// Reasons of an EventSubscription.
const (
	ReasonDelivering        = "Delivering"
	ReasonDeliveryFailing   = "DeliveryFailing"
	ReasonDeadLettered      = "DeadLettered"
	ReasonEventsLost        = "EventsLost"
	ReasonSigningKeyMissing = "SigningKeyMissing"
	ReasonPaused            = "Paused"
)

// SigningKeySecretName is the Secret generated for an EventSubscription's signing key.
func SigningKeySecretName(subscription string) string { return subscription + "-signing-key" }

// SecretKeySigningKey is the key of a signing key in its Secret.
const SecretKeySigningKey = "signing-key"

// SecretKeyPreviousSuffix names, after a signing key's own key in its Secret, the key a rotation
// replaced ("signing-key-previous"): while it is there, requests carry a signature by each, so
// receivers can move to the new key at their pace (docs/events.md).
const SecretKeyPreviousSuffix = "-previous"
