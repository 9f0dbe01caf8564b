package scim

import (
	"net/http"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

const (
	serviceProviderConfigURN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	resourceTypeURN          = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	schemaURN                = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// serviceProviderConfig describes exactly what this server supports (RFC 7643 §5).
func (s *Server) serviceProviderConfig(w http.ResponseWriter, r *http.Request, _ *tenant.Caller) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":          []string{serviceProviderConfigURN},
		"documentationUri": "https://github.com/z8z8/enterprise-identity-operator/blob/main/docs/scim-provisioning.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": maxBodyBytes},
		"filter":           map[string]any{"supported": true, "maxResults": maxCount},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": true},
		"etag":             map[string]any{"supported": true},
		"authenticationSchemes": []any{map[string]any{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "The organization's SCIM token, sent as Authorization: Bearer <token>.",
		}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": baseURL(r) + "/ServiceProviderConfig"},
	})
}

func (s *Server) resourceTypes(w http.ResponseWriter, r *http.Request, _ *tenant.Caller) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	render := func(rt *schema.ResourceType) map[string]any {
		exts := make([]any, 0, len(rt.Extensions))
		for _, e := range rt.Extensions {
			exts = append(exts, map[string]any{"schema": e.ID, "required": false})
		}
		out := map[string]any{
			"schemas": []string{resourceTypeURN}, "id": rt.Name, "name": rt.Name, "endpoint": rt.Endpoint,
			"description": rt.Schema.Description, "schema": rt.Schema.ID,
			"meta": map[string]any{"resourceType": "ResourceType", "location": baseURL(r) + "/ResourceTypes/" + rt.Name},
		}
		if len(exts) > 0 {
			out["schemaExtensions"] = exts
		}
		return out
	}
	serveDiscovery(w, r, schema.ResourceTypes, func(rt *schema.ResourceType) string { return rt.Name }, render, "resource type")
}

func (s *Server) schemas(w http.ResponseWriter, r *http.Request, _ *tenant.Caller) {
	if r.Method != http.MethodGet {
		methodNotAllowed(w, "GET")
		return
	}
	render := func(sc *schema.Schema) map[string]any {
		return map[string]any{
			"schemas": []string{schemaURN}, "id": sc.ID, "name": sc.Name, "description": sc.Description, "attributes": sc.Attributes,
			"meta": map[string]any{"resourceType": "Schema", "location": baseURL(r) + "/Schemas/" + sc.ID},
		}
	}
	serveDiscovery(w, r, schema.Schemas, func(sc *schema.Schema) string { return sc.ID }, render, "schema")
}

// serveDiscovery answers /X/{id} with the item of that id (case-insensitive) and /X with all of
// them as a ListResponse.
func serveDiscovery[T any](w http.ResponseWriter, r *http.Request, items []T, id func(T) string, render func(T) map[string]any, noun string) {
	if want := r.PathValue("id"); want != "" {
		for _, it := range items {
			if strings.EqualFold(id(it), want) {
				writeJSON(w, http.StatusOK, render(it))
				return
			}
		}
		writeError(w, &Error{Status: http.StatusNotFound, Detail: "No " + noun + " " + want})
		return
	}
	list := make([]any, 0, len(items))
	for _, it := range items {
		list = append(list, render(it))
	}
	writeList(w, list)
}

func writeList(w http.ResponseWriter, list []any) {
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas": []string{listResponseURN}, "totalResults": len(list), "startIndex": 1, "itemsPerPage": len(list), "Resources": list,
	})
}
