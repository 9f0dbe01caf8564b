package service

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Error is a refusal in words a person can act on. Status is the HTTP status a front end (the
// admin API, the wizard) answers with; every other error is internal and already logged.
type Error struct {
	Status  int
	Message string
}

func (e *Error) Error() string { return e.Message }

// Refuse builds a refusal.
func Refuse(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// TooManySignIns is the refusal of a source over its failed sign-in budget, or (AtOnce) of a
// sign-in while too many others are being checked.
type TooManySignIns struct {
	RetryAfter time.Duration
	AtOnce     bool
}

func (e *TooManySignIns) Error() string {
	if e.AtOnce {
		return "Too many sign-ins are being checked at once; try again in " + e.RetryAfter.Round(time.Second).String()
	}
	return "Too many refused sign-ins from your address; try again in " + e.RetryAfter.Round(time.Second).String()
}

// RetryAfterSeconds is the wait in whole seconds, rounded up, at least 1 (for Retry-After).
func (e *TooManySignIns) RetryAfterSeconds() int {
	return int(max(1, math.Ceil(e.RetryAfter.Seconds())))
}

// internal turns a store error into a refusal: not found as such, anything else logged and hidden.
func (s *Service) internal(err error) error {
	if e := (*Error)(nil); errors.As(err, &e) {
		return e // already a refusal in words (an identity the operator does not act as)
	}
	if errors.Is(err, store.ErrNotFound) {
		return Refuse(http.StatusNotFound, "No such member in this organization")
	}
	if errors.Is(err, store.ErrOrganizationReleased) {
		return Refuse(http.StatusConflict, "The organization's data was deleted or moved to another claim; nothing was changed")
	}
	s.Log.Error("Admin operation failed", "error", err)
	return Refuse(http.StatusInternalServerError, "Internal error; the service logged the cause")
}
