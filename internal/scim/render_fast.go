package scim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// A list without attributes or excludedAttributes (every lookup an identity provider makes) is
// written straight from the stored documents: render decodes each document into a map and
// encoding/json writes the maps back by reflection, which cost about a sixth of a lookup's CPU
// (docs/performance.md). The stored document is our own canonical JSON object without schemas,
// id or meta (canonicalize drops them), so the resource is that object with those keys, and the
// memberships, spliced in. A document whose top-level keys would collide falls back to render.

// fastRenderingRefused counts resources left to render (tests check the stores' documents take
// the fast path).
var fastRenderingRefused atomic.Int64

// resourceJSON writes a resource as render would; ok is false when the fast path does not
// apply (the caller renders it the slow way).
func resourceJSON(rt *schema.ResourceType, r *store.Resource, location string, memberships []store.Member,
	withMemberships bool) (buf []byte, ok bool) {
	defer func() {
		if !ok {
			fastRenderingRefused.Add(1)
		}
	}()
	membershipKey := "members"
	if r.Kind == store.KindUser {
		membershipKey = "groups"
	}
	keys, inner, ok := topLevelKeys(r.Doc)
	if !ok {
		return nil, false
	}
	for _, k := range keys {
		// A membership key kept in the document would be replaced by the memberships, or left out
		// when they are not returned: render's work.
		if k == "schemas" || k == "id" || k == "meta" || k == membershipKey {
			return nil, false
		}
	}
	buf = make([]byte, 0, renderedSize(r, location, memberships, withMemberships))
	buf = appendSchemas(append(buf, `{"schemas":`...), rt, keys)
	buf = append(buf, `,"id":`...)
	buf = appendJSONString(buf, r.ID)
	if len(inner) > 0 {
		buf = append(buf, ',')
		buf = append(buf, inner...)
	}
	buf = append(buf, `,"meta":{"created":`...)
	buf = appendJSONString(buf, r.Created.Format(time.RFC3339Nano))
	buf = append(buf, `,"lastModified":`...)
	buf = appendJSONString(buf, r.Modified.Format(time.RFC3339Nano))
	buf = append(buf, `,"location":`...)
	buf = appendJSONString(buf, location)
	buf = append(buf, `,"resourceType":`...)
	buf = appendJSONString(buf, rt.Name)
	buf = append(buf, `,"version":`...)
	buf = appendJSONString(buf, etag(r.Version))
	buf = append(buf, '}')
	if withMemberships && len(memberships) > 0 {
		buf = appendMemberships(append(buf, `,"`+membershipKey+`":`...), location, r.ID, memberships)
	}
	return append(buf, '}'), true
}

// renderedSize is about what resourceJSON writes, so that its buffer is allocated once: the
// document, the schemas, id and meta around it (location included), and each membership (its
// $ref about as long as the location).
func renderedSize(r *store.Resource, location string, memberships []store.Member, withMemberships bool) int {
	n := len(r.Doc) + len(location) + 400
	if withMemberships {
		for _, m := range memberships {
			n += len(location) + len(m.Display) + 100
		}
	}
	return n
}

// appendSchemas appends the resource's schemas: the core one and the extensions it holds.
func appendSchemas(buf []byte, rt *schema.ResourceType, keys []string) []byte {
	buf = appendJSONString(append(buf, '['), rt.Schema.ID)
	for _, e := range rt.Extensions {
		if slices.Contains(keys, e.ID) {
			buf = appendJSONString(append(buf, ','), e.ID)
		}
	}
	return append(buf, ']')
}

// appendMemberships appends a user's groups or a group's members, as render writes them.
func appendMemberships(buf []byte, location, id string, memberships []store.Member) []byte {
	base := strings.TrimSuffix(location, "/"+id)
	base = base[:strings.LastIndexByte(base, '/')]
	buf = append(buf, '[')
	for i, m := range memberships {
		if i > 0 {
			buf = append(buf, ',')
		}
		endpoint := "/Users/"
		if m.Type == store.KindGroup {
			endpoint = "/Groups/"
		}
		buf = appendJSONString(append(buf, `{"$ref":`...), base+endpoint+m.Value)
		if m.Display != "" {
			buf = appendJSONString(append(buf, `,"display":`...), m.Display)
		}
		buf = appendJSONString(append(buf, `,"type":`...), string(m.Type))
		buf = appendJSONString(append(buf, `,"value":`...), m.Value)
		buf = append(buf, '}')
	}
	return append(buf, ']')
}

// topLevelKeys returns the keys of a JSON object and its members without the braces (PostgreSQL
// gives jsonb back with spaces after colons and commas). Anything it does not expect (escapes in
// keys, not an object) answers !ok.
func topLevelKeys(doc []byte) (keys []string, inner []byte, ok bool) {
	if len(doc) < 2 || doc[0] != '{' || doc[len(doc)-1] != '}' {
		return nil, nil, false
	}
	inner = doc[1 : len(doc)-1]
	depth, inString, expectKey := 0, false, true
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			if depth == 0 && expectKey {
				end := bytes.IndexByte(inner[i+1:], '"')
				if end < 0 || bytes.IndexByte(inner[i+1:i+1+end], '\\') >= 0 {
					return nil, nil, false
				}
				keys = append(keys, string(inner[i+1:i+1+end]))
				i += end + 1
				expectKey = false
				continue
			}
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ',':
			if depth == 0 {
				expectKey = true
			}
		}
	}
	return keys, inner, depth == 0 && !inString
}

// appendJSONString appends s as a JSON string, as encoding/json writes it without HTML escaping.
func appendJSONString(buf []byte, s string) []byte {
	if !utf8.ValidString(s) {
		b, _ := json.Marshal(s)
		return append(buf, b...)
	}
	buf = append(buf, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x20:
			buf = append(buf, `\u00`...)
			buf = append(buf, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		default:
			buf = append(buf, c)
		}
	}
	// U+2028 and U+2029 are valid in JSON; encoding/json escapes them only for JavaScript's sake.
	return append(buf, '"')
}

// writeListPage writes a ListResponse whose resources are already JSON.
// The resources go to the response's own buffer as they are, not copied into one page first.
func writeListPage(w http.ResponseWriter, total, startIndex int, resources [][]byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"Resources":[`)
	for i, r := range resources {
		if i > 0 {
			_, _ = io.WriteString(w, ",")
		}
		_, _ = w.Write(r) //nolint:gosec // JSON sent as application/scim+json, never HTML
	}
	buf := make([]byte, 0, 160)
	buf = append(buf, `],"itemsPerPage":`...)
	buf = strconv.AppendInt(buf, int64(len(resources)), 10)
	buf = append(buf, `,"schemas":["`+listResponseURN+`"],"startIndex":`...)
	buf = strconv.AppendInt(buf, int64(startIndex), 10)
	buf = append(buf, `,"totalResults":`...)
	buf = strconv.AppendInt(buf, int64(total), 10)
	buf = append(buf, "}\n"...)
	_, _ = w.Write(buf) //nolint:gosec // JSON sent as application/scim+json, never HTML
}
