package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// canonicalize turns a client's resource body into the stored document: attribute names in
// their schema spelling, values coerced to their types (IdP quirks such as "True" or a manager
// given as a plain string included), null meaning unassigned, read-only and unknown attributes
// dropped, and passwords never kept.
func canonicalize(rt *schema.ResourceType, in map[string]any) (map[string]any, error) {
	doc := map[string]any{}
	for key, v := range in {
		if v == nil {
			continue
		}
		switch strings.ToLower(key) {
		case "schemas", "id", "meta":
			continue
		}
		if ext := rt.Extension(key); ext != nil {
			obj, ok := v.(map[string]any)
			if !ok {
				return nil, badRequest(typeInvalidValue, "%s must be an object", ext.ID)
			}
			sub, err := canonicalizeAttributes(ext, obj)
			if err != nil {
				return nil, err
			}
			if len(sub) > 0 {
				doc[ext.ID] = sub
			}
			continue
		}
		urn, rest := rt.SplitURN(key)
		r, ok := rt.Resolve(urn, rest, "")
		if !ok || r.Extension != nil && urn == "" {
			continue // unknown attributes are ignored (RFC 7644 §3.3 leaves this to the server)
		}
		if err := setCanonical(doc, r, v); err != nil {
			return nil, err
		}
	}
	return doc, nil
}

func canonicalizeAttributes(s *schema.Schema, in map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for key, v := range in {
		attr := s.Attr(key)
		if attr == nil || v == nil || attr.Mutability == schema.ReadOnly || attr.Mutability == schema.WriteOnly {
			continue
		}
		val, err := coerce(attr, v)
		if err != nil {
			return nil, err
		}
		if val != nil {
			out[attr.Name] = val
		}
	}
	return out, nil
}

// setCanonical stores v under the resolved attribute, in the extension object when it is one.
func setCanonical(doc map[string]any, r schema.Resolved, v any) error {
	if !writable(r.Attr) {
		return nil
	}
	val, err := coerce(r.Attr, v)
	if err != nil {
		return err
	}
	target := doc
	if r.Extension != nil {
		ext, _ := doc[r.Extension.ID].(map[string]any)
		if ext == nil {
			ext = map[string]any{}
			doc[r.Extension.ID] = ext
		}
		target = ext
	}
	if val == nil {
		delete(target, r.Attr.Name)
	} else {
		target[r.Attr.Name] = val
	}
	if r.Extension != nil && len(target) == 0 {
		delete(doc, r.Extension.ID)
	}
	return nil
}

// coerce converts a JSON value to the attribute's type. nil means unassigned.
func coerce(attr *schema.Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if attr.MultiValued {
		items, ok := v.([]any)
		if !ok {
			items = []any{v}
		}
		out := make([]any, 0, len(items))
		for _, item := range items {
			c, err := coerceSingle(attr, item)
			if err != nil {
				return nil, err
			}
			if c != nil {
				out = append(out, c)
			}
		}
		if len(out) == 0 {
			return nil, nil
		}
		return out, nil
	}
	return coerceSingle(attr, v)
}

func coerceSingle(attr *schema.Attribute, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch attr.Type {
	case schema.TypeComplex:
		return coerceComplex(attr, v)
	case schema.TypeBoolean:
		return coerceBoolean(attr, v)
	case schema.TypeInteger, schema.TypeDecimal:
		return coerceNumber(attr, v)
	case schema.TypeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, badRequest(typeInvalidValue, "%s must be a dateTime string", attr.Name)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			return nil, badRequest(typeInvalidValue, "%s must be an RFC 3339 dateTime", attr.Name)
		}
		return s, nil
	}
	return coerceString(attr, v)
}

func coerceComplex(attr *schema.Attribute, v any) (any, error) {
	if list, isList := v.([]any); isList && len(list) <= 1 && !attr.MultiValued && attr.Sub("value") != nil {
		// A single reference (a complex value with "value", as manager) sent as a list of one:
		// an older Entra form, [{"$ref": …, "value": "…"}]; an empty list unassigns it, as "" does.
		if len(list) == 0 {
			return nil, nil
		}
		v = list[0]
	}
	obj, ok := v.(map[string]any)
	if !ok {
		// A bare value for a complex attribute with a "value" sub-attribute: Entra's manager
		// string, a member id.
		if s, isString := v.(string); isString && attr.Sub("value") != nil {
			if s == "" {
				return nil, nil
			}
			return map[string]any{"value": s}, nil
		}
		return nil, badRequest(typeInvalidValue, "%s must be an object", attr.Name)
	}
	out := map[string]any{}
	for k, sv := range obj {
		sub := attr.Sub(k)
		if sub == nil || sv == nil {
			continue
		}
		c, err := coerceSingle(sub, sv)
		if err != nil {
			return nil, err
		}
		if c != nil {
			out[sub.Name] = c
		}
	}
	dropEmptyReference(attr, out)
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// dropEmptyReference removes an empty "value" from a single reference (the manager): "" names no
// one, so {"value": ""} unassigns it, and a name sent alone (Okta) is kept without it.
func dropEmptyReference(attr *schema.Attribute, obj map[string]any) {
	if isReference(attr) && obj["value"] == "" {
		delete(obj, "value")
	}
}

// coerceBoolean accepts JSON booleans and, for Entra ID's default job, "True"/"False" strings.
func coerceBoolean(attr *schema.Attribute, v any) (any, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		if parsed, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(b))); err == nil {
			return parsed, nil
		}
	}
	return nil, badRequest(typeInvalidValue, "%s must be true or false", attr.Name)
}

func coerceNumber(attr *schema.Attribute, v any) (any, error) {
	switch n := v.(type) {
	case float64, json.Number:
		return n, nil
	case string:
		if f, err := strconv.ParseFloat(n, 64); err == nil {
			return f, nil
		}
	}
	return nil, badRequest(typeInvalidValue, "%s must be a number", attr.Name)
}

// coerceString keeps strings as sent; numbers and booleans become their text (phone numbers
// arrive as numbers from some clients and must be stored exactly).
func coerceString(attr *schema.Attribute, v any) (any, error) {
	switch s := v.(type) {
	case string:
		return s, nil
	case float64:
		return strconv.FormatFloat(s, 'f', -1, 64), nil
	case json.Number:
		return s.String(), nil
	case bool:
		return strconv.FormatBool(s), nil
	}
	return nil, badRequest(typeInvalidValue, "%s must be a string", attr.Name)
}

// indexed derives a resource's indexed columns from its document.
func indexed(kind store.Kind, doc map[string]any, r *store.Resource) error {
	r.ExternalID, _ = doc["externalId"].(string)
	if kind == store.KindGroup {
		r.Name, _ = doc["displayName"].(string)
		if strings.TrimSpace(r.Name) == "" {
			return badRequest(typeInvalidValue, "displayName is required")
		}
		return nil
	}
	r.Name, _ = doc["userName"].(string)
	if strings.TrimSpace(r.Name) == "" {
		return badRequest(typeInvalidValue, "userName is required")
	}
	r.DisplayName, _ = doc["displayName"].(string)
	active, ok := doc["active"].(bool)
	if !ok {
		active = true
		doc["active"] = true
	}
	r.Active = active
	r.Email = primaryEmail(doc)
	return nil
}

// maxIndexedBytes bounds the values the stores index (userName, externalId, a group's
// displayName, a user's primary email): PostgreSQL refuses an index entry past about 2,700 bytes,
// which answered a longer userName with a 500. Real ones are far shorter (Entra's
// userPrincipalName is at most 113 characters, an email address 254).
const maxIndexedBytes = 1024

// indexable refuses an indexed value of next longer than maxIndexedBytes that before (the
// resource as it was; empty for a new one) did not have: what was stored before the bound stays
// writable, so a deactivation never fails on it.
func indexable(kind store.Kind, before, next *store.Resource) error {
	name := "userName"
	if kind == store.KindGroup {
		name = "displayName"
	}
	for _, v := range []struct{ name, was, is string }{
		// The stored email is the lower-cased column the store indexes: compared as such.
		{name, before.Name, next.Name}, {"externalId", before.ExternalID, next.ExternalID},
		{"the primary email", before.Email, strings.ToLower(next.Email)},
	} {
		if len(v.is) > maxIndexedBytes && v.is != v.was {
			return badRequest(typeInvalidValue, "%s is longer than %d bytes", v.name, maxIndexedBytes)
		}
	}
	return nil
}

// primaryEmail is the primary email, else the first work email, else the first.
func primaryEmail(doc map[string]any) string {
	emails, _ := doc["emails"].([]any)
	var work, first string
	for _, e := range emails {
		m, _ := e.(map[string]any)
		v, _ := m["value"].(string)
		if v == "" {
			continue
		}
		if p, _ := m["primary"].(bool); p {
			return v
		}
		if t, _ := m["type"].(string); work == "" && strings.EqualFold(t, "work") {
			work = v
		}
		if first == "" {
			first = v
		}
	}
	if work != "" {
		return work
	}
	return first
}

// render is the resource as clients see it: the document with schemas, id and meta, and the
// group members or user groups when given.
func render(rt *schema.ResourceType, r *store.Resource, location string, memberships []store.Member, withMemberships bool) (map[string]any, error) {
	out := map[string]any{}
	if err := json.Unmarshal(r.Doc, &out); err != nil {
		return nil, fmt.Errorf("decoding stored %s %s: %w", r.Kind, r.ID, err)
	}
	schemas := []string{rt.Schema.ID}
	for _, e := range rt.Extensions {
		if _, ok := out[e.ID]; ok {
			schemas = append(schemas, e.ID)
		}
	}
	out["schemas"] = schemas
	out["id"] = r.ID
	out["meta"] = map[string]any{
		"resourceType": rt.Name,
		"created":      r.Created.Format(time.RFC3339Nano),
		"lastModified": r.Modified.Format(time.RFC3339Nano),
		"location":     location,
		"version":      etag(r.Version),
	}
	if withMemberships && len(memberships) > 0 {
		key := "members"
		if r.Kind == store.KindUser {
			key = "groups"
		}
		base := strings.TrimSuffix(location, "/"+r.ID)
		base = base[:strings.LastIndex(base, "/")]
		list := make([]any, 0, len(memberships))
		for _, m := range memberships {
			endpoint := "/Users/"
			if m.Type == store.KindGroup {
				endpoint = "/Groups/"
			}
			item := map[string]any{"value": m.Value, "$ref": base + endpoint + m.Value, "type": string(m.Type)}
			if m.Display != "" {
				item["display"] = m.Display
			}
			list = append(list, item)
		}
		out[key] = list
	}
	return out, nil
}

// etag is the weak entity tag of a version.
func etag(version int64) string { return `W/"` + strconv.FormatInt(version, 10) + `"` }
