package scim

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/z8z8/enterprise-identity-operator/internal/schema"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// resourceHandler serves one resource type (Users or Groups).
type resourceHandler struct {
	server *Server
	rt     *schema.ResourceType
	kind   store.Kind
}

func (h *resourceHandler) fail(w http.ResponseWriter, err error) {
	writeError(w, toError(err, h.server.Log))
}

// failAudited answers with the error and records the refused request.
func (h *resourceHandler) failAudited(w http.ResponseWriter, err error, e *store.AuditEvent) {
	se := toError(err, h.server.Log)
	e.Status, e.ScimType, e.Detail = se.Status, se.ScimType, se.Detail
	h.server.audit.record(h.server.Store, e)
	writeError(w, se)
}

// audited records a request that wrote nothing.
func (h *resourceHandler) audited(e *store.AuditEvent, status int) {
	e.Status = status
	h.server.audit.record(h.server.Store, e)
}

// collection: GET lists, POST creates.
func (h *resourceHandler) collection(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	switch r.Method {
	case http.MethodGet:
		params, err := parseListParams(h.rt, queryGetter(r.URL.Query()), c.Organization.Name)
		if err != nil {
			h.failAudited(w, err, requestAudit(r, c, actionName(h.kind, "list"), string(h.kind)))
			return
		}
		h.list(w, r, c, params)
	case http.MethodPost:
		h.create(w, r, c)
	default:
		methodNotAllowed(w, "GET, POST")
	}
}

// item: GET, PUT, PATCH and DELETE of one resource.
func (h *resourceHandler) item(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	switch r.Method {
	case http.MethodGet:
		h.get(w, r, c)
	case http.MethodPut:
		h.replace(w, r, c)
	case http.MethodPatch:
		h.patch(w, r, c)
	case http.MethodDelete:
		h.delete(w, r, c)
	default:
		methodNotAllowed(w, "GET, PUT, PATCH, DELETE")
	}
}

// search: POST /.search with a SearchRequest body (RFC 7644 §3.4.3).
func (h *resourceHandler) search(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	body, err := readBody(w, r)
	if err != nil {
		h.fail(w, err)
		return
	}
	get := func(name string) string {
		for k, v := range body {
			if !strings.EqualFold(k, name) {
				continue
			}
			switch x := v.(type) {
			case string:
				return x
			case json.Number:
				return x.String()
			case []any:
				parts := make([]string, 0, len(x))
				for _, p := range x {
					if s, ok := p.(string); ok {
						parts = append(parts, s)
					}
				}
				return strings.Join(parts, ",")
			}
		}
		return ""
	}
	params, err := parseListParams(h.rt, get, c.Organization.Name)
	if err != nil {
		h.fail(w, err)
		return
	}
	h.list(w, r, c, params)
}

func (h *resourceHandler) list(w http.ResponseWriter, r *http.Request, c *tenant.Caller, p *listParams) {
	e := requestAudit(r, c, actionName(h.kind, "list"), string(h.kind))
	q := p.query
	q.WithGroups = h.kind == store.KindUser && p.attributes.wants("groups") // a userName lookup reads them in its one query
	page, err := h.server.Store.List(r.Context(), c.Organization.Name, h.kind, q)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	loaded, err := h.membershipsOf(r.Context(), c.Organization.Name, page.Resources, p.attributes, q.WithGroups)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	if loaded.fit == 0 && len(page.Resources) > 0 {
		h.failAudited(w, h.tooManyMembers(page.Resources[0]), e)
		return
	}
	// A page may hold fewer resources than asked (RFC 7644 §3.4.2.4): the next starts after it.
	page.Resources = page.Resources[:loaded.fit]
	h.server.chargeRead(c, loaded.count)
	h.server.chargePage(c, page)
	if p.attributes.include == nil && p.attributes.exclude == nil && h.listFast(w, r, page, p.query.StartIndex, loaded.byID) {
		h.audited(e, http.StatusOK)
		return
	}
	resources, err := h.renderAll(r, page.Resources, p.attributes, loaded.byID)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	h.audited(e, http.StatusOK)
	writeJSON(w, http.StatusOK, map[string]any{
		"schemas":      []string{listResponseURN},
		"totalResults": page.Total,
		"startIndex":   p.query.StartIndex,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	})
}

func (h *resourceHandler) get(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	e := requestAudit(r, c, actionName(h.kind, "read"), string(h.kind))
	res, err := h.server.Store.Get(r.Context(), c.Organization.Name, h.kind, r.PathValue("id"))
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatches(match, res.Version) {
		h.audited(e, http.StatusNotModified)
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.respondRead(w, r, c, res, e)
}

// readResource reads a POST or PUT body as a canonical document, with a group's member ids apart.
func (h *resourceHandler) readResource(w http.ResponseWriter, r *http.Request) (map[string]any, []string, error) {
	body, err := readBody(w, r)
	if err != nil {
		return nil, nil, err
	}
	if err := checkResourceBody(body); err != nil {
		return nil, nil, err
	}
	doc, err := canonicalize(h.rt, body)
	if err != nil {
		return nil, nil, err
	}
	members, err := h.takeMembers(doc)
	return doc, members, err
}

func (h *resourceHandler) create(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	e := requestAudit(r, c, actionName(h.kind, "create"), string(h.kind))
	doc, members, err := h.readResource(w, r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	settle := h.server.chargeMembers(w, r, c, len(members), false)
	if settle == nil {
		return
	}
	wr, changed := writeCounted(c, e)
	// Settled after the write, or on any way out before it.
	defer func() { settle(*changed) }()
	now := time.Now().UTC().Truncate(time.Microsecond) // the stores keep microseconds
	res := &store.Resource{Org: c.Organization.Name, Kind: h.kind, ID: newResourceID(), Created: now, Modified: now, Version: 1}
	if err := h.fill(res, doc); err != nil {
		h.failAudited(w, err, e)
		return
	}
	e.ResourceID, e.Status, e.Attributes = res.ID, http.StatusCreated, changedAttributes(nil, doc)
	err = h.server.Store.Create(r.Context(), res, members, wr)
	settle(*changed)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	w.Header().Set("Location", h.location(r, res.ID))
	// A new user belongs to no group yet; a new group has the members it was created with.
	h.respondWith(w, r, c, http.StatusCreated, res, h.kind == store.KindGroup, nil)
}

// replace is PUT: the body replaces the resource (group members included).
func (h *resourceHandler) replace(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	e := requestAudit(r, c, actionName(h.kind, "replace"), string(h.kind))
	ifVersion, err := ifMatch(r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	doc, members, err := h.readResource(w, r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	// A group's PUT replaces its members: it may remove ones it does not name.
	settle := h.server.chargeMembers(w, r, c, len(members), h.kind == store.KindGroup)
	if settle == nil {
		return
	}
	e.Status = http.StatusOK
	wr, changed := writeCounted(c, e)
	// Settled after the write, or on any way out before it.
	defer func() { settle(*changed) }()
	res, err := h.updatePrepared(r.Context(), c.Organization.Name, r.PathValue("id"), ifVersion,
		func(current *store.Resource) (*store.Change, error) {
			next := *current
			doc := keepActive(h.kind, doc, current)
			if err := h.fill(&next, doc); err != nil {
				return nil, err
			}
			e.Attributes = changedAttributes(decode(current.Doc), doc)
			change := &store.Change{Resource: &next, KeepIfUnchanged: sameDocument(next.Doc, current.Doc)}
			if h.kind == store.KindGroup {
				// Okta pushes a group whole, often unchanged: the store writes nothing then.
				change.Members = &store.MemberChange{Replace: true, Add: members}
			} else if change.KeepIfUnchanged {
				return nil, nil
			}
			return change, nil
		}, wr)
	settle(*changed)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	h.respond(w, r, c, http.StatusOK, res)
}

// deletedVersion is the version a DELETE requires (0: any): If-Match's one, or of several the
// resource's own when it is among them (the store's delete checks it did not change since).
func (h *resourceHandler) deletedVersion(ctx context.Context, org, id string, want []int64) (int64, error) {
	switch len(want) {
	case 0:
		return 0, nil
	case 1:
		return want[0], nil
	}
	current, err := h.server.Store.Get(ctx, org, h.kind, id)
	if err != nil {
		return 0, err
	}
	if !slices.Contains(want, current.Version) {
		return 0, store.ErrVersionMismatch
	}
	return current.Version, nil
}

// keepActive is a PUT's user document with the user's active state when the body leaves it
// out: RFC 7644 §3.5.1 lets a server take an omitted attribute as not asserted, and a user
// without active reads as active, so a PUT that forgot it would give a deactivated user access
// back. doc itself is left as it is: a PUT prepared again starts from the body.
func keepActive(kind store.Kind, doc map[string]any, current *store.Resource) map[string]any {
	if kind != store.KindUser {
		return doc
	}
	if v, given := doc["active"]; given && v != nil {
		return doc
	}
	out := make(map[string]any, len(doc)+1)
	for k, v := range doc {
		out[k] = v
	}
	out["active"] = current.Active
	return out
}

func (h *resourceHandler) patch(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	e := requestAudit(r, c, actionName(h.kind, "patch"), string(h.kind))
	ifVersion, err := ifMatch(r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	body, err := readBody(w, r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	ops, members, err := parsePatch(body)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	settle := h.server.chargeMembers(w, r, c, members, h.kind == store.KindGroup && replacesMembers(ops))
	if settle == nil {
		return
	}
	groupResponse := h.kind == store.KindGroup && queryGetter(r.URL.Query())("attributes") == ""
	e.Status = http.StatusOK
	if groupResponse {
		e.Status = http.StatusNoContent
	}
	// Prepared outside the store's transaction (update.go): the operations run on this request's
	// goroutine, never on the write path other organizations share.
	wr, changed := writeCounted(c, e)
	// Settled after the write, or on any way out before it.
	defer func() { settle(*changed) }()
	res, err := h.updatePrepared(r.Context(), c.Organization.Name, r.PathValue("id"), ifVersion,
		func(current *store.Resource) (*store.Change, error) {
			var doc map[string]any
			if err := json.Unmarshal(current.Doc, &doc); err != nil {
				return nil, fmt.Errorf("decoding stored %s: %w", h.kind, err)
			}
			next, members, err := applyPatch(h.rt, h.kind, doc, ops)
			if err != nil {
				return nil, err
			}
			if err := checkGrowth(doc, next); err != nil {
				return nil, err
			}
			updated := *current
			if err := h.fill(&updated, next); err != nil {
				return nil, err
			}
			e.Attributes = changedAttributes(doc, next)
			if members != nil {
				e.Attributes = append(e.Attributes, "members")
			}
			// Compared as JSON, not as the stored bytes: PostgreSQL returns jsonb in its own spelling.
			// Nothing changed: no new version, lastModified kept; a member change that changes no
			// membership (Entra adds members again) the store tells in the write itself.
			unchanged := equalJSON(doc, next)
			if members == nil && unchanged {
				return nil, nil
			}
			return &store.Change{Resource: &updated, Members: members, KeepIfUnchanged: unchanged}, nil
		}, wr)
	settle(*changed)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	// Entra expects 204 for group PATCH; users are returned (validators read them back).
	if groupResponse {
		w.Header().Set("ETag", etag(res.Version))
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.respond(w, r, c, http.StatusOK, res)
}

func (h *resourceHandler) delete(w http.ResponseWriter, r *http.Request, c *tenant.Caller) {
	e := requestAudit(r, c, actionName(h.kind, "delete"), string(h.kind))
	ifVersion, err := ifMatch(r)
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	e.Status = http.StatusNoContent
	version, err := h.deletedVersion(r.Context(), c.Organization.Name, r.PathValue("id"), ifVersion)
	if err == nil {
		err = h.server.Store.Delete(r.Context(), c.Organization.Name, h.kind, r.PathValue("id"), version, write(c, e))
	}
	if err != nil {
		h.failAudited(w, err, e)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// takeMembers moves a group's members out of the document (they live in the join table).
func (h *resourceHandler) takeMembers(doc map[string]any) ([]string, error) {
	if h.kind != store.KindGroup {
		return nil, nil
	}
	v := doc["members"]
	delete(doc, "members")
	return memberIDs(v)
}

// fill sets the indexed columns and the stored document.
// res is the resource as it was (a copy of it; zero for a new one), and what it stored before
// the bounds on stored values (indexable, maxResourceBytes) stays writable.
func (h *resourceHandler) fill(res *store.Resource, doc map[string]any) error {
	before := *res
	if err := indexed(h.kind, doc, res); err != nil {
		return err
	}
	if err := indexable(h.kind, &before, res); err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	if len(b) > maxResourceBytes && grows(before.Doc, doc, b) {
		return badRequest(typeInvalidValue, "the %s would be larger than %d KiB", strings.ToLower(string(h.kind)), maxResourceBytes>>10)
	}
	res.Doc = b
	return nil
}

// grows says whether next (encoded as b) is larger than stored, a document stored before the
// bound on documents, or changes more than active: what was stored larger stays writable,
// deactivations included, without growing. stored is compared as encoded here: PostgreSQL
// returns jsonb in a spelling of its own, a space after each separator.
func grows(stored []byte, next map[string]any, b []byte) bool {
	var was map[string]any
	if len(stored) == 0 || json.Unmarshal(stored, &was) != nil {
		return true
	}
	if again, err := json.Marshal(was); err == nil && len(b) <= len(again) {
		return false
	}
	return !equalJSON(withoutKey(was, "active"), withoutKey(next, "active"))
}

// withoutKey is m without key (m itself is not changed).
func withoutKey(m map[string]any, key string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func (h *resourceHandler) location(r *http.Request, id string) string {
	return baseURL(r) + h.rt.Endpoint + "/" + id
}

// respond writes one resource a write returns, honouring attributes/excludedAttributes.
func (h *resourceHandler) respond(w http.ResponseWriter, r *http.Request, c *tenant.Caller, status int, res *store.Resource) {
	h.respondWith(w, r, c, status, res, true, nil)
}

// respondRead writes one resource a read returns, and records the read (e).
func (h *resourceHandler) respondRead(w http.ResponseWriter, r *http.Request, c *tenant.Caller, res *store.Resource, e *store.AuditEvent) {
	h.respondWith(w, r, c, http.StatusOK, res, true, e)
}

// respondWith writes one resource, with its memberships when asked. A read (audited by e) of a
// group with more members than a response carries is refused; a write's answer (e nil: the
// write is done and recorded) leaves its members out instead.
func (h *resourceHandler) respondWith(w http.ResponseWriter, r *http.Request, c *tenant.Caller, status int, res *store.Resource,
	memberships bool, e *store.AuditEvent) {
	get := queryGetter(r.URL.Query())
	proj := parseProjection(h.rt, get("attributes"), get("excludedAttributes"))
	fail := func(err error) {
		if e != nil {
			h.failAudited(w, err, e)
		} else {
			h.fail(w, err)
		}
	}
	var byID map[string][]store.Member
	if memberships {
		loaded, err := h.membershipsOf(r.Context(), c.Organization.Name, []*store.Resource{res}, proj, res.GroupsLoaded)
		if err != nil {
			fail(err)
			return
		}
		switch {
		case loaded.fit == 1:
			byID = loaded.byID
		case e != nil:
			fail(h.tooManyMembers(res))
			return
		}
		if e != nil {
			h.server.chargeRead(c, loaded.count)
		}
	}
	if e != nil {
		h.audited(e, status)
	}
	if proj.include == nil && proj.exclude == nil { // no projection: written from the stored document
		if b, ok := resourceJSON(h.rt, res, h.location(r, res.ID), byID[res.ID], byID != nil); ok {
			w.Header().Set("ETag", etag(res.Version))
			w.Header().Set("Content-Type", contentType)
			w.WriteHeader(status)
			_, _ = w.Write(append(b, '\n')) //nolint:gosec // JSON sent as application/scim+json, never HTML
			return
		}
	}
	if byID == nil {
		proj = proj.without(h.membershipKey())
	}
	out, err := h.renderAll(r, []*store.Resource{res}, proj, byID)
	if err != nil {
		h.fail(w, err)
		return
	}
	w.Header().Set("ETag", etag(res.Version))
	writeJSON(w, status, out[0])
}

// listFast writes a page without projection straight from the stored documents
// (render_fast.go); it reports false, having written nothing, when one of them needs render.
func (h *resourceHandler) listFast(w http.ResponseWriter, r *http.Request, page *store.Page, startIndex int,
	memberships map[string][]store.Member) bool {
	out := make([][]byte, 0, len(page.Resources))
	for _, res := range page.Resources {
		b, ok := resourceJSON(h.rt, res, h.location(r, res.ID), memberships[res.ID], memberships != nil)
		if !ok {
			return false
		}
		out = append(out, b)
	}
	writeListPage(w, page.Total, startIndex, out)
	return true
}

// renderAll renders resources with their memberships (nil: without).
func (h *resourceHandler) renderAll(r *http.Request, list []*store.Resource, proj projection, memberships map[string][]store.Member) ([]any, error) {
	out := make([]any, 0, len(list))
	for _, res := range list {
		m, err := render(h.rt, res, h.location(r, res.ID), memberships[res.ID], memberships != nil)
		if err != nil {
			return nil, err
		}
		out = append(out, proj.apply(h.rt, m))
	}
	return out, nil
}

// membershipKey is the attribute listing memberships: a group's members, a user's groups.
func (h *resourceHandler) membershipKey() string {
	if h.kind == store.KindGroup {
		return "members"
	}
	return "groups"
}

// ifMatch reads If-Match: nil when absent or "*", else the versions it names, any of which may
// be the resource's (RFC 7232 §3.1).
func ifMatch(r *http.Request) ([]int64, error) {
	h := strings.TrimSpace(r.Header.Get("If-Match"))
	if h == "" || h == "*" {
		return nil, nil
	}
	var versions []int64
	for part := range strings.SplitSeq(h, ",") {
		if v, ok := parseETag(part); ok && len(versions) < maxIfMatchTags {
			versions = append(versions, v)
		}
	}
	if len(versions) == 0 {
		return nil, &Error{Status: http.StatusPreconditionFailed, Detail: "If-Match names no version of this resource"}
	}
	return versions, nil
}

// maxIfMatchTags bounds the versions one If-Match is checked against (a header may be 1 MiB).
const maxIfMatchTags = 16

func etagMatches(header string, version int64) bool {
	for _, part := range strings.Split(header, ",") {
		if strings.TrimSpace(part) == "*" {
			return true
		}
		if v, ok := parseETag(part); ok && v == version {
			return true
		}
	}
	return false
}

func parseETag(s string) (int64, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "W/")
	s = strings.Trim(s, `"`)
	v, err := strconv.ParseInt(s, 10, 64)
	return v, err == nil && v > 0
}

// decode reads a stored document (nil when it cannot be read).
func decode(doc []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(doc, &m)
	return m
}

// sameDocument compares two JSON documents by content.
func sameDocument(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	ea, _ := json.Marshal(x)
	eb, _ := json.Marshal(y)
	return bytes.Equal(ea, eb)
}

// newResourceID is a new user's or group's id: a UUID ordered by time (version 7, RFC 9562).
// Every table holding a resource (the resource, its member, employee record, history and
// memberships) is keyed by organization and id, so random ids put each create on a random leaf
// page of each of those indexes: pages a commit must log and a checkpoint copy. Ordered ids append
// to the same few pages. The time they carry is no secret (meta.created says it), and 74 of their
// bits are random; nothing relies on an id being unguessable (every request is scoped to its
// organization by its token).
func newResourceID() string { return uuid.Must(uuid.NewV7()).String() }

// newID is an opaque random UUID (version 4): a request's id in the audit log.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
