package sso_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/sso"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// client is the operator's guarded client with loopback allowed, as with --local: the local
// identity providers listen on 127.0.0.1.
var client = outbound.NewClient(outbound.Options{Allow: outbound.Loopback(), Timeout: 5 * time.Second})

func reasonOf(t *testing.T, err error) string {
	t.Helper()
	var v *sso.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	return v.Reason
}

func TestOIDCDiscovery(t *testing.T) {
	idp := localidp.New()
	defer idp.Close()
	ctx := context.Background()

	t.Run("a provider publishing its issuer and keys validates", func(t *testing.T) {
		got, err := sso.ValidateOIDC(ctx, client, idp.URL())
		if err != nil {
			t.Fatal(err)
		}
		if got.Issuer != idp.URL() || got.Keys != 1 || got.JWKSURI != idp.URL()+"/keys" {
			t.Fatalf("unexpected result %+v", got)
		}
	})
	t.Run("a trailing slash on the configured issuer is accepted", func(t *testing.T) {
		if _, err := sso.ValidateOIDC(ctx, client, idp.URL()+"/"); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("an issuer that declares another issuer is refused", func(t *testing.T) {
		idp.SetIssuer("https://elsewhere.example")
		defer idp.SetIssuer(idp.URL())
		_, err := sso.ValidateOIDC(ctx, client, idp.URL())
		if r := reasonOf(t, err); r != sso.ReasonIssuerMismatch {
			t.Fatalf("reason %s", r)
		}
	})
	t.Run("a provider without keys is refused", func(t *testing.T) {
		idp.SetKeys(0)
		defer idp.SetKeys(1)
		_, err := sso.ValidateOIDC(ctx, client, idp.URL())
		if r := reasonOf(t, err); r != sso.ReasonNoSigningKeys {
			t.Fatalf("reason %s", r)
		}
	})
	t.Run("a provider answering errors is unreachable", func(t *testing.T) {
		idp.SetStatus(http.StatusInternalServerError)
		defer idp.SetStatus(http.StatusOK)
		_, err := sso.ValidateOIDC(ctx, client, idp.URL())
		if r := reasonOf(t, err); r != sso.ReasonDiscoveryFailed {
			t.Fatalf("reason %s", r)
		}
	})
}

func TestSAMLMetadata(t *testing.T) {
	now := time.Now()
	valid := localidp.Certificate(now.Add(365 * 24 * time.Hour))
	expired := localidp.Certificate(now.Add(-time.Hour))
	meta := localidp.SAMLMetadata("https://idp.example/saml", "https://idp.example/sso", valid)

	cases := []struct {
		name     string
		metadata []byte
		entityID string
		reason   string
	}{
		{"metadata with a valid certificate validates", meta, "", ""},
		{"the configured entity ID selects the provider", meta, "https://idp.example/saml", ""},
		{"a different configured entity ID is refused", meta, "https://other.example", sso.ReasonNoIdentityProvider},
		{"malformed XML is refused", []byte("<md:EntityDescriptor"), "", sso.ReasonMetadataInvalid},
		{"metadata without a signing certificate is refused", localidp.SAMLMetadata("e", "https://idp.example/sso"), "", sso.ReasonNoSigningCertificate},
		{"metadata whose only certificate expired is refused", localidp.SAMLMetadata("e", "https://idp.example/sso", expired), "", sso.ReasonCertificateExpired},
		{"a rollover with one expired certificate still validates", localidp.SAMLMetadata("e", "https://idp.example/sso", expired, valid), "", ""},
		{"an entity ID longer than status should hold is refused", localidp.SAMLMetadata(strings.Repeat("e", 5000), "https://idp.example/sso", valid), "",
			sso.ReasonMetadataInvalid},
		{"metadata without an IdP descriptor is refused", []byte(`<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="sp"/>`), "", sso.ReasonNoIdentityProvider},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := sso.ParseSAMLMetadata(c.metadata, c.entityID, now)
			if c.reason != "" {
				if r := reasonOf(t, err); r != c.reason {
					t.Fatalf("reason %s, want %s (%v)", r, c.reason, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.SSOURL != "https://idp.example/sso" || got.CertificateNotAfter.Before(now.Add(364*24*time.Hour)) {
				t.Fatalf("unexpected result %+v", got)
			}
		})
	}
}

func TestSAMLMetadataInAnEntitiesDescriptorNeedsAnEntityIDWhenSeveralIdPsAreListed(t *testing.T) {
	cert := localidp.Certificate(time.Now().Add(48 * time.Hour))
	one := localidp.SAMLMetadata("https://a.example", "https://a.example/sso", cert)
	two := localidp.SAMLMetadata("https://b.example", "https://b.example/sso", cert)
	strip := func(b []byte) string { return string(b[len(`<?xml version="1.0" encoding="UTF-8"?>`):]) }
	all := []byte(`<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata">` + strip(one) + strip(two) + `</md:EntitiesDescriptor>`)

	if _, err := sso.ParseSAMLMetadata(all, "", time.Now()); reasonOf(t, err) != sso.ReasonNoIdentityProvider {
		t.Fatalf("several IdPs without entityID must be refused, got %v", err)
	}
	got, err := sso.ParseSAMLMetadata(all, "https://b.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got.SSOURL != "https://b.example/sso" {
		t.Fatalf("chose %s", got.SSOURL)
	}
}

func TestSAMLMetadataURL(t *testing.T) {
	idp := localidp.New()
	defer idp.Close()
	body, err := sso.FetchMetadata(context.Background(), client, idp.MetadataURL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sso.ParseSAMLMetadata(body, "", time.Now()); err != nil {
		t.Fatal(err)
	}
	idp.SetStatus(http.StatusNotFound)
	_, err = sso.FetchMetadata(context.Background(), client, idp.MetadataURL())
	if r := reasonOf(t, err); r != sso.ReasonMetadataUnavailable {
		t.Fatalf("reason %s", r)
	}
}
