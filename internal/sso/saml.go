package sso

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"net/http"
	"strings"
	"time"
)

// maxSAMLName bounds an entity ID or sign-on URL taken from metadata into status.
const maxSAMLName = 2048

const (
	bindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	bindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
)

// SAMLResult is what an identity provider's SAML metadata revealed.
type SAMLResult struct {
	EntityID string
	SSOURL   string
	// CertificateNotAfter is the latest expiry among the signing certificates: sign-in keeps
	// working until then.
	CertificateNotAfter time.Time
}

// The subset of SAML 2.0 metadata (saml-metadata-2.0-os) that validation reads. encoding/xml
// resolves no external entities, so untrusted metadata is safe to parse.
type entitiesDescriptor struct {
	Entities []entityDescriptor   `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntityDescriptor"`
	Nested   []entitiesDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata EntitiesDescriptor"`
}

type entityDescriptor struct {
	EntityID string          `xml:"entityID,attr"`
	IdPs     []idpDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata IDPSSODescriptor"`
}

type idpDescriptor struct {
	Keys     []keyDescriptor `xml:"urn:oasis:names:tc:SAML:2.0:metadata KeyDescriptor"`
	Services []endpoint      `xml:"urn:oasis:names:tc:SAML:2.0:metadata SingleSignOnService"`
}

type keyDescriptor struct {
	Use          string   `xml:"use,attr"`
	Certificates []string `xml:"http://www.w3.org/2000/09/xmldsig# KeyInfo>X509Data>X509Certificate"`
}

type endpoint struct {
	Binding  string `xml:"Binding,attr"`
	Location string `xml:"Location,attr"`
}

// ParseSAMLMetadata finds the identity provider in metadata (the one named entityID, or the only
// one when entityID is empty), its single sign-on URL and its signing certificates, and reports
// when the certificates expire. Metadata whose signing certificates have all expired is invalid.
//
// Hand-written on encoding/xml rather than a SAML library: only three elements are read, and the
// SAML service-provider stacks bring XML signature and session machinery the operator never uses.
func ParseSAMLMetadata(metadata []byte, entityID string, now time.Time) (*SAMLResult, error) {
	entities, err := decodeEntities(metadata)
	if err != nil {
		return nil, invalid(ReasonMetadataInvalid, unquoted(err), "The SAML metadata is not valid XML metadata")
	}
	idp, err := selectIdentityProvider(entities, entityID)
	if err != nil {
		return nil, err
	}
	result := &SAMLResult{EntityID: idp.EntityID, SSOURL: singleSignOnURL(idp)}
	if result.SSOURL == "" {
		return nil, invalid(ReasonMetadataInvalid, nil, "The SAML metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")
	}
	// Both go into the EnterpriseIdentity's status: text a tenant's URL returned, so bounded.
	if len(result.EntityID) > maxSAMLName || len(result.SSOURL) > maxSAMLName {
		return nil, invalid(ReasonMetadataInvalid, nil, "The SAML metadata's entityID or SingleSignOnService location is longer than %d characters", maxSAMLName)
	}
	certs, err := signingCertificates(idp)
	if err != nil {
		return nil, invalid(ReasonMetadataInvalid, err, "A signing certificate in the SAML metadata cannot be read")
	}
	if len(certs) == 0 {
		return nil, invalid(ReasonNoSigningCertificate, nil, "The SAML metadata publishes no signing certificate")
	}
	for _, c := range certs {
		if c.NotAfter.After(result.CertificateNotAfter) {
			result.CertificateNotAfter = c.NotAfter
		}
	}
	if !result.CertificateNotAfter.After(now) {
		return nil, invalid(ReasonCertificateExpired, nil, "The SAML signing certificate expired on %s; upload the identity provider's current metadata",
			result.CertificateNotAfter.UTC().Format(time.DateOnly))
	}
	return result, nil
}

// selectIdentityProvider picks the entity named entityID, or the only identity provider.
func selectIdentityProvider(entities []entityDescriptor, entityID string) (entityDescriptor, error) {
	var idps []entityDescriptor
	for _, e := range entities {
		if len(e.IdPs) > 0 && (entityID == "" || e.EntityID == entityID) {
			idps = append(idps, e)
		}
	}
	switch {
	case len(idps) == 0 && entityID != "":
		return entityDescriptor{}, invalid(ReasonNoIdentityProvider, nil, "The SAML metadata describes no identity provider with entityID %q", entityID)
	case len(idps) == 0:
		return entityDescriptor{}, invalid(ReasonNoIdentityProvider, nil, "The SAML metadata describes no identity provider (IDPSSODescriptor)")
	case len(idps) > 1:
		return entityDescriptor{}, invalid(ReasonNoIdentityProvider, nil,
			"The SAML metadata describes %d identity providers; set saml.entityID to choose one", len(idps))
	}
	return idps[0], nil
}

// singleSignOnURL is the first browser-binding single sign-on location.
func singleSignOnURL(idp entityDescriptor) string {
	for _, d := range idp.IdPs {
		for _, s := range d.Services {
			if (s.Binding == bindingRedirect || s.Binding == bindingPOST) && s.Location != "" {
				return s.Location
			}
		}
	}
	return ""
}

// largeDecodes bounds the metadata documents over largeMetadata decoded at once: decoding takes
// about five times a document's size in memory, and a federation's metadata (up to 8 MiB, the
// fetch's bound) decoded by every reconcile worker at once would take hundreds of megabytes.
var largeDecodes = make(chan struct{}, 2)

const largeMetadata = 1 << 20

// decodeEntities accepts a single EntityDescriptor or an EntitiesDescriptor (possibly nested).
func decodeEntities(metadata []byte) ([]entityDescriptor, error) {
	if len(metadata) > largeMetadata {
		largeDecodes <- struct{}{}
		defer func() { <-largeDecodes }()
	}
	var probe struct{ XMLName xml.Name }
	if err := xml.Unmarshal(metadata, &probe); err != nil {
		return nil, err
	}
	if probe.XMLName.Local == "EntitiesDescriptor" {
		var all entitiesDescriptor
		if err := xml.Unmarshal(metadata, &all); err != nil {
			return nil, err
		}
		return flatten(all), nil
	}
	var one entityDescriptor
	if err := xml.Unmarshal(metadata, &one); err != nil {
		return nil, err
	}
	return []entityDescriptor{one}, nil
}

func flatten(d entitiesDescriptor) []entityDescriptor {
	out := append([]entityDescriptor(nil), d.Entities...)
	for _, n := range d.Nested {
		out = append(out, flatten(n)...)
	}
	return out
}

func signingCertificates(idp entityDescriptor) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, d := range idp.IdPs {
		for _, k := range d.Keys {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, encoded := range k.Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(encoded), ""))
				if err != nil {
					return nil, errors.New("a signing certificate is not valid base64")
				}
				cert, err := x509.ParseCertificate(der)
				if err != nil {
					// Not the parser's words: they quote the certificate's content (a URI it cannot parse).
					return nil, errors.New("a signing certificate is not a valid X.509 certificate")
				}
				certs = append(certs, cert)
			}
		}
	}
	return certs, nil
}

// FetchMetadata reads SAML metadata from the identity provider's metadata URL.
func FetchMetadata(ctx context.Context, client *http.Client, url string) ([]byte, error) {
	body, err := fetch(ctx, client, url)
	if err != nil {
		return nil, fetchFailed(ReasonMetadataUnavailable, err, "the SAML metadata at "+url)
	}
	return body, nil
}
