package events

import (
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// sendTimeout bounds one send, its answer included.
const sendTimeout = 10 * time.Second

// maxResponseHeaders bounds a receiver's answer headers: only its status is used, and a tenant's
// receiver answering with megabytes of headers would otherwise cost the leader that memory per
// send (Go reads up to 10 MiB of them).
const maxResponseHeaders = 64 << 10

// NewWebhookClient is the client that sends webhooks. Receivers are applications, often inside
// the cluster: private ranges are allowed, loopback and link-local (the metadata service) only
// when allow names them. A redirect is not followed: the receiver is the URL the subscription
// names.
func NewWebhookClient(allow []netip.Prefix) *http.Client {
	c := outbound.NewClient(outbound.Options{Allow: append(slices.Clone(allow), outbound.Private()...), Timeout: sendTimeout,
		MaxResponseHeaderBytes: maxResponseHeaders})
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}
