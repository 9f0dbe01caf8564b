package scim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/scim/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// maxBodyBytes bounds request bodies (advertised as bulk.maxPayloadSize); larger ones get 413.
const maxBodyBytes = 1 << 20

// Server serves SCIM 2.0 for every organization in the registry, under /scim/v2/{organization}/.
type Server struct {
	Store   store.Store
	Tenants *tenant.Registry
	Log     *slog.Logger

	audit auditLog
}

// Close records the audit events still queued (reads and refusals are written in batches). Call
// it once no more requests arrive and before the store closes.
func (s *Server) Close() { s.audit.close() }

// Routes registers the SCIM routes on mux. Every route requires the organization's bearer token
// (discovery included, so no answer tells whether an organization exists).
func (s *Server) Routes(mux *http.ServeMux) {
	const base = "/scim/v2/{org}"
	// Discovery (RFC 7644 §4): GET only.
	mux.Handle(base+"/ServiceProviderConfig", s.authenticated(s.serviceProviderConfig))
	mux.Handle(base+"/ResourceTypes", s.authenticated(s.resourceTypes))
	mux.Handle(base+"/ResourceTypes/{id}", s.authenticated(s.resourceTypes))
	mux.Handle(base+"/Schemas", s.authenticated(s.schemas))
	mux.Handle(base+"/Schemas/{id}", s.authenticated(s.schemas))
	// Resources (RFC 7644 §3): Users and Groups.
	for _, rt := range schema.ResourceTypes {
		h := &resourceHandler{server: s, rt: rt, kind: store.Kind(rt.Name)}
		mux.Handle(base+rt.Endpoint, s.authenticated(h.collection))
		mux.Handle("POST "+base+rt.Endpoint+"/.search", s.authenticated(h.search))
		mux.Handle(base+rt.Endpoint+"/{id}", s.authenticated(h.item))
	}
	// Anything else under an organization: a SCIM 404, after authentication.
	notFound := s.authenticated(func(w http.ResponseWriter, _ *http.Request, _ *tenant.Caller) {
		writeError(w, &Error{Status: http.StatusNotFound, Detail: "No such SCIM endpoint"})
	})
	mux.Handle(base, notFound)
	mux.Handle(base+"/", notFound)
}

type callerKey struct{}

// authenticated checks the bearer token against the organization named in the path. A wrong
// token, a missing one and an unknown organization all answer 401 alike; a disabled integration
// answers 403.
func (s *Server) authenticated(next func(http.ResponseWriter, *http.Request, *tenant.Caller)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		org := r.PathValue("org")
		caller, err := s.Tenants.Authenticate(org, bearerToken(r))
		var refused *Error
		switch {
		case errors.Is(err, tenant.ErrDisabled):
			refused = &Error{Status: http.StatusForbidden, Detail: "SCIM provisioning is disabled for this organization"}
		case err != nil:
			refused = &Error{Status: http.StatusUnauthorized, Detail: "A valid bearer token for this organization is required"}
		}
		if refused != nil {
			// Recorded for served organizations only (no rows for made-up names), and never with
			// any token material.
			if s.Tenants.Serving(org) {
				e := requestAudit(r, nil, "auth.refused", "")
				e.Org, e.Status, e.Detail = org, refused.Status, refused.Detail
				s.audit.record(s.Store, e)
			}
			writeError(w, refused)
			return
		}
		ctx := context.WithValue(r.Context(), callerKey{}, caller)
		next(w, r.WithContext(ctx), caller)
	})
}

func bearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	tok = strings.TrimSpace(tok)
	// A token pasted with its scheme into a field that adds the scheme again.
	if inner, ok := strings.CutPrefix(tok, "Bearer "); ok {
		tok = strings.TrimSpace(inner)
	}
	return tok
}

// readBody decodes a JSON request body: application/scim+json or application/json (a missing
// Content-Type is tolerated), at most maxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/scim+json" && mt != "application/json") {
			return nil, &Error{Status: http.StatusUnsupportedMediaType, Detail: "Send application/scim+json or application/json"}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than 1 MiB"}
	}
	if err != nil {
		return nil, badRequest(typeInvalidSyntax, "the request body could not be read")
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	var out map[string]any
	if err := dec.Decode(&out); err != nil || out == nil {
		return nil, badRequest(typeInvalidSyntax, "the request body is not a JSON object")
	}
	return out, nil
}

// baseURL is the organization's SCIM base URL as the client reached it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	host := r.Host
	if h := r.Header.Get("X-Forwarded-Host"); h != "" {
		host = strings.TrimSpace(strings.Split(h, ",")[0])
	}
	return scheme + "://" + host + "/scim/v2/" + r.PathValue("org")
}

func methodNotAllowed(w http.ResponseWriter, allowed string) {
	w.Header().Set("Allow", allowed)
	writeError(w, &Error{Status: http.StatusMethodNotAllowed, Detail: "Allowed methods: " + allowed})
}

// Handler is the SCIM server as an http.Handler: the routes, with trailing slashes ignored
// ("/Users/" is "/Users").
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.Routes(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") && strings.Count(p, "/") > 4 {
			r.URL.Path = strings.TrimRight(p, "/")
		}
		mux.ServeHTTP(w, r)
	})
}
