// Package sso validates an organization's single sign-on configuration against its identity
// provider: OIDC discovery and SAML metadata.
package sso

import "fmt"

// Reasons a validation fails, used as condition reasons.
const (
	ReasonDiscoveryFailed      = "DiscoveryFailed"
	ReasonIssuerMismatch       = "IssuerMismatch"
	ReasonNoSigningKeys        = "NoSigningKeys"
	ReasonClientSecretMissing  = "ClientSecretMissing"
	ReasonMetadataUnavailable  = "MetadataUnavailable"
	ReasonMetadataInvalid      = "MetadataInvalid"
	ReasonNoIdentityProvider   = "NoIdentityProvider"
	ReasonNoSigningCertificate = "NoSigningCertificate"
	ReasonCertificateExpired   = "CertificateExpired"
)

// ValidationError is a configuration problem a person can act on: Reason is an UpperCamel
// condition reason, Message a short sentence for the condition.
type ValidationError struct {
	Reason  string
	Message string
	Err     error
}

func (e *ValidationError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Message, e.Err)
	}
	return e.Message
}

func (e *ValidationError) Unwrap() error { return e.Err }

func invalid(reason string, err error, format string, args ...any) *ValidationError {
	return &ValidationError{Reason: reason, Message: fmt.Sprintf(format, args...), Err: err}
}
