package sso

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
)

// OIDCResult is what OIDC discovery revealed.
type OIDCResult struct {
	Issuer                string
	AuthorizationEndpoint string
	JWKSURI               string
	Keys                  int
}

type discoveryDocument struct {
	Issuer                string `json:"issuer"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	JWKSURI               string `json:"jwks_uri"`
}

// keySet counts a key set's keys without keeping them: validation only asks that there is one,
// and an element kept per key let an 8 MiB `{"keys":[{},{},…]}` cost 165 MB of memory.
type keySet struct {
	Keys []struct{} `json:"keys"`
}

// ValidateOIDC reads the issuer's discovery document, checks that it declares this issuer and
// the endpoints sign-in needs, and that its key set publishes at least one key.
//
// Hand-written rather than go-oidc: go-oidc's provider checks the issuer but fetches keys only
// when verifying a token, and we need to report a missing key set now.
func ValidateOIDC(ctx context.Context, client *http.Client, issuerURL string) (*OIDCResult, error) {
	discoveryURL := strings.TrimSuffix(issuerURL, "/") + "/.well-known/openid-configuration"
	body, err := fetch(ctx, client, discoveryURL)
	if err != nil {
		return nil, fetchFailed(ReasonDiscoveryFailed, err, "the OIDC discovery document at "+discoveryURL)
	}
	var doc discoveryDocument
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, invalid(ReasonDiscoveryFailed, unquoted(err), "The OIDC discovery document at %s is not valid JSON", discoveryURL)
	}
	// Messages from here on name the discovery URL, never the document's values (its issuer,
	// its jwks_uri): the URL is the tenant's, and a condition must not become a way to read
	// whatever a URL returns. The admin can open the discovery URL to see the values.
	if strings.TrimSuffix(doc.Issuer, "/") != strings.TrimSuffix(issuerURL, "/") {
		return nil, invalid(ReasonIssuerMismatch, nil,
			"The OIDC discovery document at %s declares a different issuer than issuerURL %q; set issuerURL to the issuer it declares",
			discoveryURL, issuerURL)
	}
	if doc.AuthorizationEndpoint == "" || doc.TokenEndpoint == "" {
		return nil, invalid(ReasonDiscoveryFailed, nil, "The OIDC discovery document at %s lacks authorization_endpoint or token_endpoint", discoveryURL)
	}
	if doc.JWKSURI == "" {
		return nil, invalid(ReasonNoSigningKeys, nil, "The OIDC discovery document at %s has no jwks_uri", discoveryURL)
	}
	keysAt := "the signing keys at the jwks_uri of the OIDC discovery document at " + discoveryURL
	keysBody, err := fetch(ctx, client, doc.JWKSURI)
	if err != nil {
		return nil, fetchFailed(ReasonNoSigningKeys, err, keysAt)
	}
	var keys keySet
	if err := json.Unmarshal(keysBody, &keys); err != nil {
		return nil, invalid(ReasonNoSigningKeys, unquoted(err), "The key set at the jwks_uri of the OIDC discovery document at %s is not valid JSON", discoveryURL)
	}
	if len(keys.Keys) == 0 {
		return nil, invalid(ReasonNoSigningKeys, nil, "The key set at the jwks_uri of the OIDC discovery document at %s publishes no signing keys", discoveryURL)
	}
	return &OIDCResult{
		Issuer:                doc.Issuer,
		AuthorizationEndpoint: doc.AuthorizationEndpoint,
		JWKSURI:               doc.JWKSURI,
		Keys:                  len(keys.Keys),
	}, nil
}
