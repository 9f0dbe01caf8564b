// Package sso validates an organization's single sign-on configuration against its identity
// provider: OIDC discovery and SAML metadata.
package sso

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// Reasons a validation fails: condition reasons of SSOReady, defined with the API.
const (
	ReasonDiscoveryFailed      = v1alpha1.ReasonDiscoveryFailed
	ReasonIssuerMismatch       = v1alpha1.ReasonIssuerMismatch
	ReasonNoSigningKeys        = v1alpha1.ReasonNoSigningKeys
	ReasonClientSecretMissing  = v1alpha1.ReasonClientSecretMissing
	ReasonMetadataUnavailable  = v1alpha1.ReasonMetadataUnavailable
	ReasonMetadataInvalid      = v1alpha1.ReasonMetadataInvalid
	ReasonNoIdentityProvider   = v1alpha1.ReasonNoIdentityProvider
	ReasonNoSigningCertificate = v1alpha1.ReasonNoSigningCertificate
	ReasonCertificateExpired   = v1alpha1.ReasonCertificateExpired
	// ReasonURLNotAllowed: the URL leads to an address the operator does not connect to
	// (loopback, link-local, private); see internal/outbound.
	ReasonURLNotAllowed = v1alpha1.ReasonURLNotAllowed
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

// unquoted stands in for a decoder's error, which can repeat bytes of the document ("invalid
// character 'x'", "element <x> closed by </y>"), with one that says only where parsing stopped.
// Documents come from tenant-chosen URLs; Err reaches the operator's log, and whatever prints it.
func unquoted(err error) error {
	var jsonSyntax *json.SyntaxError
	var jsonType *json.UnmarshalTypeError
	var xmlSyntax *xml.SyntaxError
	switch {
	case errors.As(err, &jsonSyntax):
		return fmt.Errorf("JSON syntax error at byte %d", jsonSyntax.Offset)
	case errors.As(err, &jsonType):
		// Field is a path in our own struct, not text from the document.
		return fmt.Errorf("JSON value of the wrong type for %q at byte %d", jsonType.Field, jsonType.Offset)
	case errors.As(err, &xmlSyntax):
		return fmt.Errorf("XML syntax error on line %d", xmlSyntax.Line)
	}
	return errors.New("not the expected document")
}
