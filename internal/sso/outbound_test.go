package sso_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	neturl "net/url"
	"strings"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
	"github.com/z8z8/enterprise-identity-operator/internal/sso"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// guarded is the client the operator uses without --local and without --allow-outbound-cidrs.
var guarded = outbound.NewClient(outbound.Options{Timeout: 5 * time.Second})

// notAllowed asserts a URLNotAllowed refusal whose message names the URL and the refused address
// and quotes nothing the server could have sent.
func notAllowed(t *testing.T, err error, url, addr string) {
	t.Helper()
	var v *sso.ValidationError
	if !errors.As(err, &v) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	if v.Reason != sso.ReasonURLNotAllowed {
		t.Fatalf("reason %s (%v)", v.Reason, err)
	}
	if !strings.Contains(v.Message, url) || !strings.Contains(v.Message, addr) || !strings.Contains(v.Message, "--allow-outbound-cidrs") {
		t.Fatalf("message %q should name %s, %s and the flag", v.Message, url, addr)
	}
}

// on127002 serves h on 127.0.0.2, a loopback address that tests allow on its own.
func on127002(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(t.Context(), "tcp", "127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewUnstartedServer(h)
	s.Listener = l
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Only 169.254.169.254 and loopback are used: the guard refuses before connecting, so no packet
// goes to the metadata address.
func TestBlockedAddressesAreNotAllowed(t *testing.T) {
	idp := localidp.New()
	defer idp.Close()
	ctx := context.Background()
	metadataService := "http://169.254.169.254"

	t.Run("OIDC discovery at the cloud metadata address", func(t *testing.T) {
		_, err := sso.ValidateOIDC(ctx, guarded, metadataService+"/")
		notAllowed(t, err, metadataService+"/.well-known/openid-configuration", "169.254.169.254")
	})
	t.Run("OIDC discovery on loopback", func(t *testing.T) {
		_, err := sso.ValidateOIDC(ctx, guarded, idp.URL())
		notAllowed(t, err, idp.URL()+"/.well-known/openid-configuration", "127.0.0.1")
	})
	t.Run("SAML metadata at the cloud metadata address", func(t *testing.T) {
		_, err := sso.FetchMetadata(ctx, guarded, metadataService+"/latest/meta-data/")
		notAllowed(t, err, metadataService+"/latest/meta-data/", "169.254.169.254")
	})
	t.Run("SAML metadata on loopback", func(t *testing.T) {
		_, err := sso.FetchMetadata(ctx, guarded, idp.MetadataURL())
		notAllowed(t, err, idp.MetadataURL(), "127.0.0.1")
	})
}

// A provider on an allowed address cannot send validation on to a blocked one, neither through
// its discovery document's jwks_uri nor through a redirect.
func TestAllowedProviderCannotPointAtBlockedAddresses(t *testing.T) {
	internal := localidp.New() // 127.0.0.1: publishes a valid key set, so only the guard can fail it
	defer internal.Close()
	var front *httptest.Server
	front = on127002(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			_ = json.NewEncoder(w).Encode(map[string]string{"issuer": front.URL, "authorization_endpoint": front.URL + "/authorize",
				"token_endpoint": front.URL + "/token", "jwks_uri": internal.URL() + "/keys"})
		case "/saml/metadata":
			http.Redirect(w, r, internal.MetadataURL(), http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	client := outbound.NewClient(outbound.Options{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}, Timeout: 5 * time.Second})
	ctx := context.Background()

	t.Run("a jwks_uri on a blocked address", func(t *testing.T) {
		_, err := sso.ValidateOIDC(ctx, client, front.URL)
		notAllowed(t, err, front.URL+"/.well-known/openid-configuration", "127.0.0.1")
		var v *sso.ValidationError
		if errors.As(err, &v) && strings.Contains(v.Message, internal.URL()) {
			t.Fatalf("the message quotes the document's jwks_uri: %q", v.Message)
		}
	})
	t.Run("metadata redirecting to a blocked address", func(t *testing.T) {
		_, err := sso.FetchMetadata(ctx, client, front.URL+"/saml/metadata")
		notAllowed(t, err, front.URL+"/saml/metadata", "127.0.0.1")
	})
}

// Conditions carry Message; Error adds Err for the log. Neither repeats what a URL returned.
func TestValidationErrorsQuoteNothingFetched(t *testing.T) {
	const secret = "s3cr3t-internal-value"
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/keys":
			_, _ = w.Write([]byte(`{"keys": 1` + secret + `}`))
			return
		case r.URL.Path == "/redirect":
			w.Header().Set("Location", "http://["+secret) // a Location the client cannot parse
			w.WriteHeader(http.StatusFound)
			return
		case strings.HasPrefix(r.URL.Path, "/missing"):
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	ctx := context.Background()
	cases := []struct{ name, document, reason string }{
		{"a document that is not JSON", secret + ` {`, sso.ReasonDiscoveryFailed},
		{"JSON that is not a discovery document", `{"issuer": 7` + secret + `}`, sso.ReasonDiscoveryFailed},
		{"a value of the wrong type", `{"issuer": ["` + secret + `"]}`, sso.ReasonDiscoveryFailed},
		{"another issuer", `{"issuer": "https://` + secret + `.example"}`, sso.ReasonIssuerMismatch},
		{"a key set that is not JSON", `{"issuer": "` + srv.URL + `", "authorization_endpoint": "https://` + secret + `/a", "token_endpoint": "x",
			"jwks_uri": "` + srv.URL + `/keys"}`, sso.ReasonNoSigningKeys},
		// The jwks_uri is the document's: a fetch of it fails without repeating it.
		{"a jwks_uri that is not a URL", `{"issuer": "` + srv.URL + `", "authorization_endpoint": "a", "token_endpoint": "t",
			"jwks_uri": "::` + secret + `"}`, sso.ReasonNoSigningKeys},
		{"a jwks_uri that is not found", `{"issuer": "` + srv.URL + `", "authorization_endpoint": "a", "token_endpoint": "t",
			"jwks_uri": "` + srv.URL + `/missing-` + secret + `"}`, sso.ReasonNoSigningKeys},
		{"a jwks_uri redirecting to a Location that cannot be parsed", `{"issuer": "` + srv.URL + `", "authorization_endpoint": "a",
			"token_endpoint": "t", "jwks_uri": "` + srv.URL + `/redirect"}`, sso.ReasonNoSigningKeys},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body = c.document
			_, err := sso.ValidateOIDC(ctx, client, srv.URL)
			if r := reasonOf(t, err); r != c.reason {
				t.Fatalf("reason %s, want %s (%v)", r, c.reason, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error quotes the document: %v", err)
			}
		})
	}
	t.Run("a signing certificate the parser cannot read", func(t *testing.T) {
		// Go's parser quotes a URI it cannot parse: the certificate's own content.
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour),
			URIs: []*neturl.URL{{Scheme: "https", Host: secret + "[bad"}}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		_, err = sso.ParseSAMLMetadata(localidp.SAMLMetadata("e", "https://idp.example/sso", der), "", time.Now())
		if reasonOf(t, err) != sso.ReasonMetadataInvalid || strings.Contains(err.Error(), secret) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("SAML metadata that is not XML", func(t *testing.T) {
		_, err := sso.ParseSAMLMetadata([]byte(`<md:EntityDescriptor><`+secret+`></md:EntityDescriptor>`), "", time.Now())
		if reasonOf(t, err) != sso.ReasonMetadataInvalid || strings.Contains(err.Error(), secret) {
			t.Fatalf("got %v", err)
		}
	})
}
