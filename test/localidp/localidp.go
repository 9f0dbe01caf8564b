// Package localidp serves what real identity providers publish — OIDC discovery documents, key
// sets and SAML metadata with real X.509 certificates — on loopback, for tests and demos.
package localidp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Provider is an identity provider on a loopback HTTP server. Its documents can be changed
// while it runs to simulate misconfiguration.
type Provider struct {
	Server *httptest.Server

	mu sync.Mutex
	// Issuer is what the discovery document declares; defaults to the server URL.
	issuer string
	keys   int
	saml   []byte
	status int
	// modulus is the base64url RSA modulus of the published signing key.
	modulus string
}

// New starts a provider publishing a valid OIDC configuration with one key and SAML metadata
// whose signing certificate is valid for a year.
func New() *Provider {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	p := &Provider{keys: 1, status: http.StatusOK, modulus: base64.RawURLEncoding.EncodeToString(key.N.Bytes())}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.jwks)
	mux.HandleFunc("GET /saml/metadata", p.metadata)
	p.Server = httptest.NewServer(mux)
	p.issuer = p.Server.URL
	p.SetSAML(SAMLMetadata(p.Server.URL+"/saml", p.Server.URL+"/saml/sso", Certificate(time.Now().Add(365*24*time.Hour))))
	return p
}

// Close stops the server.
func (p *Provider) Close() { p.Server.Close() }

// URL is the issuer URL of a correctly configured client.
func (p *Provider) URL() string { return p.Server.URL }

// MetadataURL is where the SAML metadata is served.
func (p *Provider) MetadataURL() string { return p.Server.URL + "/saml/metadata" }

// SetIssuer changes the issuer the discovery document declares.
func (p *Provider) SetIssuer(issuer string) { p.mu.Lock(); p.issuer = issuer; p.mu.Unlock() }

// SetKeys changes how many signing keys are published.
func (p *Provider) SetKeys(n int) { p.mu.Lock(); p.keys = n; p.mu.Unlock() }

// SetSAML changes the SAML metadata served.
func (p *Provider) SetSAML(metadata []byte) { p.mu.Lock(); p.saml = metadata; p.mu.Unlock() }

// SetStatus makes every endpoint answer with this HTTP status (200 restores normal answers).
func (p *Provider) SetStatus(code int) { p.mu.Lock(); p.status = code; p.mu.Unlock() }

func (p *Provider) failing(w http.ResponseWriter) bool {
	if p.status != http.StatusOK {
		http.Error(w, http.StatusText(p.status), p.status)
		return true
	}
	return false
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing(w) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.Server.URL + "/authorize",
		"token_endpoint":                        p.Server.URL + "/token",
		"jwks_uri":                              p.Server.URL + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing(w) {
		return
	}
	keys := []map[string]string{}
	for i := range p.keys {
		keys = append(keys, map[string]string{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": fmt.Sprintf("key-%d", i), "n": p.modulus, "e": "AQAB"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

func (p *Provider) metadata(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failing(w) {
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(p.saml)
}

// Certificate returns a DER self-signed certificate valid until notAfter.
func Certificate(notAfter time.Time) []byte {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localidp signing"},
		NotBefore:    notAfter.Add(-10 * 365 * 24 * time.Hour),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return der
}

// SAMLMetadata is IdP metadata as Okta and Entra publish it: one EntityDescriptor with an
// IDPSSODescriptor, a signing certificate and redirect/POST single sign-on services.
func SAMLMetadata(entityID, ssoURL string, certDER ...[]byte) []byte {
	keys := ""
	for _, der := range certDER {
		keys += fmt.Sprintf(`
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo>
    </md:KeyDescriptor>`, base64.StdEncoding.EncodeToString(der))
	}
	return fmt.Appendf(nil, `<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="%s">
  <md:IDPSSODescriptor WantAuthnRequestsSigned="false" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">%s
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`, entityID, keys, ssoURL, ssoURL)
}
