// Package scim is the SCIM 2.0 protocol layer (RFC 7644): routing, authentication against the
// tenant registry, IdP normalisation, resources, PATCH, lists and errors, over the store.
package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// SCIM message schema URNs.
const (
	errorURN         = "urn:ietf:params:scim:api:messages:2.0:Error"
	listResponseURN  = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	patchOpURN       = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	searchRequestURN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
	contentType      = "application/scim+json; charset=utf-8"
)

// scimType values (RFC 7644 §3.12).
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
)

// Error is a SCIM error response.
type Error struct {
	Status   int
	ScimType string
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.ScimType, e.Detail) }

func badRequest(scimType, format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// bounded is e with its detail cut to store.MaxAuditDetail bytes. A detail may quote what the
// client sent (a sortBy, a PATCH path, a member id), and neither the answer nor the audit event
// recording it may grow with the request: an 800 KiB sortBy quoted with %q was a 2.4 MB answer.
func (e *Error) bounded() *Error {
	if len(e.Detail) <= store.MaxAuditDetail {
		return e
	}
	c := *e
	c.Detail = store.Clip(e.Detail, store.MaxAuditDetail)
	return &c
}

// toError maps any error to the SCIM error the client sees, its detail bounded: domain errors to
// their statuses, everything else to a 500 without internals (the cause is logged).
func toError(err error, log *slog.Logger) *Error { return unboundedError(err, log).bounded() }

func unboundedError(err error, log *slog.Logger) *Error {
	var se *Error
	var fe *store.FilterError
	var me *store.InvalidMemberError
	switch {
	case errors.As(err, &se):
		return se
	case errors.As(err, &fe):
		return badRequest(typeInvalidFilter, "%s", fe.Detail)
	case errors.As(err, &me):
		return badRequest(typeInvalidValue, "member %q is not a User or Group of this organization", me.ID)
	case errors.Is(err, store.ErrNotFound):
		return &Error{Status: http.StatusNotFound, Detail: "Resource not found"}
	case errors.Is(err, store.ErrTakeover):
		return &Error{Status: http.StatusConflict, ScimType: typeUniqueness,
			Detail: "A member with this userName already exists in the organization and was not created by SCIM; it is never taken over"}
	case errors.Is(err, store.ErrGroupNameTaken):
		return &Error{Status: http.StatusConflict, ScimType: typeUniqueness, Detail: "displayName is already taken by another group of this organization"}
	case errors.Is(err, store.ErrUniqueness):
		return &Error{Status: http.StatusConflict, ScimType: typeUniqueness, Detail: "userName is already taken in this organization"}
	case errors.Is(err, store.ErrTooManyRemoved):
		return tooMany("A write may remove at most %d members of a group; remove members with PATCH operations naming them, "+
			"or delete the group", store.MaxMembersRemovedPerWrite)
	case errors.Is(err, store.ErrOrganizationReleased):
		// The organization was deleted or re-bound while the request was in flight: nothing was
		// written; a retry meets the organization as it is now.
		return &Error{Status: http.StatusServiceUnavailable, Detail: "The organization is being deleted or moved; nothing was written"}
	case errors.Is(err, store.ErrBusy):
		// Only this organization's reads are held back: others' go on.
		return &Error{Status: http.StatusTooManyRequests, Detail: "Too many of this organization's requests are waiting; retry in a moment"}
	case errors.Is(err, store.ErrVersionMismatch):
		return &Error{Status: http.StatusPreconditionFailed, Detail: "The resource changed since the version in If-Match"}
	}
	log.Error("SCIM request failed", "error", err)
	return &Error{Status: http.StatusInternalServerError, Detail: "Internal error; the service logged the cause"}
}

// writeError writes an RFC 7644 §3.12 error body; status is a string, as the RFC and Okta ask.
func writeError(w http.ResponseWriter, e *Error) {
	e = e.bounded()
	body := map[string]any{"schemas": []string{errorURN}, "status": strconv.Itoa(e.Status), "detail": e.Detail}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
	}
	// A 503 here is a lost race on a busy resource (update.go), a 429 without its own
	// Retry-After a full queue of the organization's reads: both worth retrying at once.
	if (e.Status == http.StatusServiceUnavailable || e.Status == http.StatusTooManyRequests) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(body)
}
