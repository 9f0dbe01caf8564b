package sso

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// FuzzParseSAMLMetadata: any metadata a tenant's URL returns is either parsed or refused with a
// ValidationError; it never panics, and a refusal never quotes the document.
func FuzzParseSAMLMetadata(f *testing.F) {
	cert := localidp.Certificate(time.Now().Add(24 * time.Hour))
	f.Add(localidp.SAMLMetadata("https://idp.example/saml", "https://idp.example/sso", cert), "")
	f.Add(localidp.SAMLMetadata("https://idp.example/saml", "https://idp.example/sso", cert), "https://idp.example/saml")
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><EntityDescriptor entityID="a"/></EntitiesDescriptor>`), "a")
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "secret">]><EntityDescriptor entityID="&e;"/>`), "")
	f.Add([]byte("not xml at all"), "")
	f.Fuzz(func(t *testing.T, metadata []byte, entityID string) {
		_, err := ParseSAMLMetadata(metadata, entityID, time.Now())
		checkRefusal(t, err, metadata)
	})
}

// FuzzOIDCDiscovery: any discovery document and key set are parsed or refused with a
// ValidationError, never a panic, and a refusal never quotes what was fetched.
func FuzzOIDCDiscovery(f *testing.F) {
	const issuer = "https://login.example"
	f.Add([]byte(`{"issuer":"`+issuer+`","authorization_endpoint":"a","token_endpoint":"t","jwks_uri":"https://login.example/keys"}`), []byte(`{"keys":[{}]}`))
	f.Add([]byte(`{"issuer":"https://elsewhere"}`), []byte(`{}`))
	f.Add([]byte(`{"issuer":`), []byte(`[]`))
	f.Add([]byte(`{"issuer":"`+issuer+`","authorization_endpoint":"a","token_endpoint":"t","jwks_uri":"::bad"}`), []byte(`{"keys":[]}`))
	f.Fuzz(func(t *testing.T, discovery, keys []byte) {
		client := &http.Client{Transport: documents{"/.well-known/openid-configuration": discovery, "/keys": keys}}
		_, err := ValidateOIDC(context.Background(), client, issuer)
		if err != nil {
			checkRefusal(t, err, discovery)
			checkRefusal(t, err, keys)
		}
	})
}

// documents serves fixed bodies by path: the fuzzer's stand-in for an identity provider.
type documents map[string][]byte

func (d documents) RoundTrip(r *http.Request) (*http.Response, error) {
	body, ok := d[r.URL.Path]
	if !ok {
		return &http.Response{StatusCode: http.StatusNotFound, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
	}
	return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(bytes.NewReader(body)), Request: r}, nil
}

// checkRefusal: a refusal is a ValidationError whose message does not repeat the document
// (short documents could match by chance, so only documents of some length are checked).
func checkRefusal(t *testing.T, err error, document []byte) {
	t.Helper()
	if err == nil {
		return
	}
	var invalid *ValidationError
	if !errors.As(err, &invalid) {
		t.Fatalf("a refusal that is not a ValidationError: %v", err)
	}
	if len(document) >= 24 && strings.Contains(invalid.Message, string(document)) {
		t.Fatalf("the condition message repeats the fetched document: %q", invalid.Message)
	}
}
