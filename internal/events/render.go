// Package events turns the provisioning outbox into what applications receive: the event JSON
// (Render), the Standard Webhooks signature (signing.go), and delivery to EventSubscriptions
// (Deliverer), at least once and in order per subscription and organization.
package events

import (
	"encoding/json"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// Event is the wire form of an event: the Events API's item and a webhook's body.
type Event struct {
	ID           string          `json:"id"`
	Type         string          `json:"type"`
	Organization string          `json:"organization"`
	Sequence     int64           `json:"sequence"`
	Time         time.Time       `json:"time"`
	Actor        *Actor          `json:"actor,omitempty"`
	RequestID    string          `json:"requestId,omitempty"`
	Data         store.EventData `json:"data"`
}

// Actor is who caused an event: an identity provider's token, or an admin.
type Actor struct {
	Type             string `json:"type"`
	TokenFingerprint string `json:"tokenFingerprint,omitempty"`
	User             string `json:"user,omitempty"`
}

// Permissions returns the permissions of a role (its RoleTemplate's), nil when unknown.
type Permissions func(role string) []string

// Wire is the event as applications receive it; permissions are those of the member's role now.
func Wire(org string, r store.EventRecord, permissions Permissions) Event {
	e := Event{ID: r.ID, Type: string(r.Event.Type), Organization: org, Sequence: r.Seq, Time: r.Time, RequestID: r.RequestID,
		Actor: actorOf(r.Actor), Data: r.Data}
	if m := e.Data.Member; m != nil && m.Role != "" && permissions != nil {
		copied := *m
		copied.Permissions = permissions(m.Role)
		e.Data.Member = &copied
	}
	return e
}

// Render is the event's JSON.
func Render(org string, r store.EventRecord, permissions Permissions) ([]byte, error) {
	return json.Marshal(Wire(org, r, permissions))
}

func actorOf(actor string) *Actor {
	switch {
	case strings.HasPrefix(actor, "token:"):
		return &Actor{Type: "identityProvider", TokenFingerprint: strings.TrimPrefix(actor, "token:")}
	case strings.HasPrefix(actor, "admin:"):
		return &Actor{Type: "admin", User: strings.TrimPrefix(actor, "admin:")}
	}
	return nil
}

// Wants reports whether a subscription's types select an event type: exact types or "prefix.*"
// (no types: all).
func Wants(types []string, eventType string) bool {
	if len(types) == 0 {
		return true
	}
	for _, t := range types {
		if t == eventType || (strings.HasSuffix(t, ".*") && strings.HasPrefix(eventType, strings.TrimSuffix(t, "*"))) {
			return true
		}
	}
	return false
}
