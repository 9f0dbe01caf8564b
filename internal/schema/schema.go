// Package schema describes the SCIM resources the data plane serves (RFC 7643): their attributes
// with types, mutability and case rules. The protocol layer, the PATCH engine and the SQL filter
// translation all read these definitions, so an attribute behaves the same everywhere.
package schema

import "strings"

// Attribute types (RFC 7643 §2.3).
const (
	TypeString    = "string"
	TypeBoolean   = "boolean"
	TypeDecimal   = "decimal"
	TypeInteger   = "integer"
	TypeDateTime  = "dateTime"
	TypeReference = "reference"
	TypeComplex   = "complex"
)

// Mutability and returned values (RFC 7643 §7).
const (
	ReadOnly  = "readOnly"
	ReadWrite = "readWrite"
	Immutable = "immutable"
	WriteOnly = "writeOnly"

	ReturnedAlways  = "always"
	ReturnedNever   = "never"
	ReturnedDefault = "default"
)

// Attribute is one attribute definition.
type Attribute struct {
	Name            string       `json:"name"`
	Type            string       `json:"type"`
	SubAttributes   []*Attribute `json:"subAttributes,omitempty"`
	MultiValued     bool         `json:"multiValued"`
	Description     string       `json:"description,omitempty"`
	Required        bool         `json:"required"`
	CanonicalValues []string     `json:"canonicalValues,omitempty"`
	CaseExact       bool         `json:"caseExact"`
	Mutability      string       `json:"mutability"`
	Returned        string       `json:"returned"`
	Uniqueness      string       `json:"uniqueness"`
	ReferenceTypes  []string     `json:"referenceTypes,omitempty"`
}

// Sub finds a sub-attribute by name, case-insensitively.
func (a *Attribute) Sub(name string) *Attribute {
	for _, s := range a.SubAttributes {
		if strings.EqualFold(s.Name, name) {
			return s
		}
	}
	return nil
}

// Schema is a set of attributes with a URN.
type Schema struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Attributes  []*Attribute `json:"attributes"`
}

// Attr finds a top-level attribute by name, case-insensitively.
func (s *Schema) Attr(name string) *Attribute {
	for _, a := range s.Attributes {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

// ResourceType ties an endpoint to its core schema and extensions.
type ResourceType struct {
	Name       string
	Endpoint   string
	Schema     *Schema
	Extensions []*Schema
}

// Extension finds an extension schema by URN, case-insensitively.
func (rt *ResourceType) Extension(urn string) *Schema {
	for _, e := range rt.Extensions {
		if strings.EqualFold(e.ID, urn) {
			return e
		}
	}
	return nil
}

// Resolved is an attribute found by name: the schema it belongs to (nil for core), the attribute
// and, for "a.b" paths, the sub-attribute.
type Resolved struct {
	Extension *Schema
	Attr      *Attribute
	Sub       *Attribute
}

// Resolve finds an attribute from a filter or PATCH path: an optional schema URN, the attribute
// name and an optional sub-attribute, all case-insensitive. A URN naming the core schema is the
// same as none. Unknown names return ok=false.
func (rt *ResourceType) Resolve(urn, name, sub string) (Resolved, bool) {
	var r Resolved
	switch {
	case urn == "" || strings.EqualFold(urn, rt.Schema.ID):
		r.Attr = rt.Schema.Attr(name)
		if r.Attr == nil {
			r.Attr = commonAttr(name)
		}
		if r.Attr == nil {
			// Lenient: an extension attribute without its URN, when unambiguous.
			for _, e := range rt.Extensions {
				if a := e.Attr(name); a != nil {
					r.Extension, r.Attr = e, a
					break
				}
			}
		}
	default:
		r.Extension = rt.Extension(urn)
		if r.Extension == nil {
			return r, false
		}
		r.Attr = r.Extension.Attr(name)
	}
	if r.Attr == nil {
		return r, false
	}
	if sub != "" {
		r.Sub = r.Attr.Sub(sub)
		if r.Sub == nil {
			return r, false
		}
	}
	return r, true
}

// SplitURN separates a schema URN prefix from an attribute path such as
// "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", using the known
// extension URNs (attribute paths themselves never contain ':').
func (rt *ResourceType) SplitURN(path string) (urn, rest string) {
	for _, s := range append([]*Schema{rt.Schema}, rt.Extensions...) {
		if len(path) > len(s.ID) && strings.EqualFold(path[:len(s.ID)], s.ID) && path[len(s.ID)] == ':' {
			return s.ID, path[len(s.ID)+1:]
		}
	}
	return "", path
}

// common attributes of every resource (RFC 7643 §3.1).
var (
	idAttr = &Attribute{Name: "id", Type: TypeString, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedAlways,
		Uniqueness: "server", Description: "Unique identifier for the resource, assigned by the service provider."}
	externalIDAttr = &Attribute{Name: "externalId", Type: TypeString, CaseExact: true, Mutability: ReadWrite, Returned: ReturnedDefault,
		Uniqueness: "none", Description: "Identifier of the resource in the provisioning client."}
	metaAttr = &Attribute{Name: "meta", Type: TypeComplex, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none",
		Description: "Resource metadata.", SubAttributes: []*Attribute{
			str("resourceType", ReadOnly, false), dateTime("created"), dateTime("lastModified"),
			{Name: "location", Type: TypeReference, CaseExact: true, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none",
				ReferenceTypes: []string{"uri"}},
			str("version", ReadOnly, true),
		}}
)

func commonAttr(name string) *Attribute {
	for _, a := range []*Attribute{idAttr, externalIDAttr, metaAttr} {
		if strings.EqualFold(a.Name, name) {
			return a
		}
	}
	return nil
}

func str(name, mutability string, caseExact bool) *Attribute {
	return &Attribute{Name: name, Type: TypeString, CaseExact: caseExact, Mutability: mutability, Returned: ReturnedDefault, Uniqueness: "none"}
}

func dateTime(name string) *Attribute {
	return &Attribute{Name: name, Type: TypeDateTime, Mutability: ReadOnly, Returned: ReturnedDefault, Uniqueness: "none"}
}

func boolean(name string) *Attribute {
	return &Attribute{Name: name, Type: TypeBoolean, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none"}
}

func complexAttr(name string, multi bool, subs ...*Attribute) *Attribute {
	return &Attribute{Name: name, Type: TypeComplex, MultiValued: multi, Mutability: ReadWrite, Returned: ReturnedDefault, Uniqueness: "none", SubAttributes: subs}
}

// multiValuedStrings is the shape of emails, phoneNumbers, ims, photos, entitlements, roles and
// x509Certificates: value, display, type, primary.
func multiValuedStrings(name string, types ...string) *Attribute {
	typ := str("type", ReadWrite, false)
	typ.CanonicalValues = types
	return complexAttr(name, true, str("value", ReadWrite, false), str("display", ReadWrite, false), typ, boolean("primary"))
}
