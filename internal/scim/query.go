package scim

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Paging limits, advertised in ServiceProviderConfig.
const (
	defaultCount = 100
	maxCount     = 1000
)

// listParams are a list request's parameters, from the query string or a SearchRequest body.
type listParams struct {
	query      store.Query
	attributes projection
}

// parseListParams reads filter, startIndex, count, sortBy, sortOrder, attributes and
// excludedAttributes. Parameter names are matched case-insensitively; unknown ones (such as
// Entra's aadOptscim062020) are ignored. org is the organization asking (its share of the filter
// shape cache).
func parseListParams(rt *schema.ResourceType, get func(string) string, org string) (*listParams, error) {
	p := &listParams{query: store.Query{StartIndex: 1, Count: defaultCount}}
	if f := strings.TrimSpace(get("filter")); f != "" {
		// Bounded before parsing: the filter's length here, its terms and nesting in limits.go.
		if err := checkFilterLength(f); err != nil {
			return nil, err
		}
		// A filter's strings are JSON strings: Unicode. PostgreSQL refuses other bytes outright.
		if !utf8.ValidString(f) {
			return nil, badRequest(typeInvalidFilter, "the filter is not valid UTF-8")
		}
		// Nor NUL, raw or escaped: no stored value holds one, and PostgreSQL refuses it outright.
		if strings.IndexByte(f, 0) >= 0 || strings.Contains(f, `\u0000`) {
			return nil, badRequest(typeInvalidFilter, "the filter contains a NUL character")
		}
		if err := checkFilterSize(f, typeInvalidFilter); err != nil {
			return nil, err
		}
		expr, err := parseFilter(f, org)
		if err != nil {
			return nil, err
		}
		p.query.Filter = expr
	}
	if s := get("startIndex"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest(typeInvalidValue, "startIndex must be an integer")
		}
		p.query.StartIndex = max(n, 1)
	}
	if s := get("count"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest(typeInvalidValue, "count must be an integer")
		}
		p.query.Count = min(max(n, 0), maxCount)
	}
	if s := get("sortBy"); s != "" {
		p.query.SortBy = s
	}
	if s := get("sortOrder"); s != "" {
		switch strings.ToLower(s) {
		case "ascending":
		case "descending":
			p.query.SortDescending = true
		default:
			return nil, badRequest(typeInvalidValue, "sortOrder must be ascending or descending")
		}
	}
	p.attributes = parseProjection(rt, get("attributes"), get("excludedAttributes"))
	return p, nil
}

// queryGetter reads URL parameters case-insensitively.
func queryGetter(q url.Values) func(string) string {
	return func(name string) string {
		for k, v := range q {
			if strings.EqualFold(k, name) && len(v) > 0 {
				return v[0]
			}
		}
		return ""
	}
}

// projection is attributes/excludedAttributes (RFC 7644 §3.4.2.5): attribute keys as they
// appear in a rendered resource ("name", "urn:…:User"), with optional sub-attributes.
type projection struct {
	include, exclude map[string]map[string]bool // top-level key → sub-attributes (empty: all)
}

func parseProjection(rt *schema.ResourceType, attributes, excluded string) projection {
	var p projection
	parse := func(list string) map[string]map[string]bool {
		if strings.TrimSpace(list) == "" {
			return nil
		}
		out := map[string]map[string]bool{}
		for _, item := range strings.Split(list, ",") {
			item = strings.TrimSpace(item)
			if i := strings.Index(item, "["); i >= 0 { // emails[type eq "work"] selects emails
				item = item[:i]
			}
			if item == "" {
				continue
			}
			urn, rest := rt.SplitURN(item)
			name, sub, _ := strings.Cut(rest, ".")
			r, ok := rt.Resolve(urn, name, sub)
			if !ok {
				continue
			}
			key := r.Attr.Name
			if r.Extension != nil {
				key = r.Extension.ID + ":" + r.Attr.Name
			}
			if out[key] == nil {
				out[key] = map[string]bool{}
			}
			if r.Sub != nil {
				out[key][r.Sub.Name] = true
			}
		}
		return out
	}
	p.include, p.exclude = parse(attributes), parse(excluded)
	return p
}

// wants reports whether a top-level attribute (such as "members") is returned.
func (p projection) wants(name string) bool {
	if p.include != nil {
		_, ok := p.include[name]
		return ok
	}
	if subs, ok := p.exclude[name]; ok && len(subs) == 0 {
		return false
	}
	return true
}

// without also excludes an attribute.
func (p projection) without(name string) projection {
	out := projection{include: p.include, exclude: map[string]map[string]bool{name: {}}}
	for k, v := range p.exclude {
		out.exclude[k] = v
	}
	if out.include != nil {
		delete(out.include, name)
	}
	return out
}

// apply trims a rendered resource. id and schemas are always returned.
func (p projection) apply(rt *schema.ResourceType, res map[string]any) map[string]any {
	if p.include == nil && p.exclude == nil {
		return res
	}
	keep := func(key string, value any, rule map[string]map[string]bool, including bool) (any, bool) {
		subs, listed := rule[key]
		if !listed {
			return value, !including
		}
		if len(subs) == 0 {
			return value, including
		}
		return filterSubs(value, subs, including), true
	}
	out := map[string]any{}
	for k, v := range res {
		if k == "id" || k == "schemas" {
			out[k] = v
			continue
		}
		if ext := rt.Extension(k); ext != nil {
			obj, _ := v.(map[string]any)
			inner := map[string]any{}
			for ek, ev := range obj {
				rule, including := p.exclude, false
				if p.include != nil {
					rule, including = p.include, true
				}
				if x, ok := keep(ext.ID+":"+ek, ev, rule, including); ok {
					inner[ek] = x
				}
			}
			if len(inner) > 0 {
				out[k] = inner
			}
			continue
		}
		if p.include != nil {
			if x, ok := keep(k, v, p.include, true); ok {
				out[k] = x
			}
			continue
		}
		if x, ok := keep(k, v, p.exclude, false); ok {
			out[k] = x
		}
	}
	return out
}

// filterSubs keeps (including) or drops sub-attributes of a complex value or list of them.
func filterSubs(v any, subs map[string]bool, including bool) any {
	one := func(m map[string]any) map[string]any {
		out := map[string]any{}
		for k, x := range m {
			if subs[k] == including {
				out[k] = x
			}
		}
		return out
	}
	switch x := v.(type) {
	case map[string]any:
		return one(x)
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				out = append(out, one(m))
			}
		}
		return out
	}
	return v
}
