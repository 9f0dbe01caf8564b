// Package outbound builds the HTTP client for URLs that tenants choose (identity provider
// discovery and metadata, the self-test's SCIM base URL), so that a namespace admin cannot make
// the operator fetch the cloud metadata service, the API server, or anything else internal.
//
// The check runs in the dialer's Control hook, on the IP address actually being connected to,
// after DNS resolution and for every connection, redirects included. Checking the URL's host
// beforehand would be bypassed by a name that resolves differently the second time (DNS
// rebinding) or by a redirect to an internal address.
package outbound

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// MaxRedirects is how many redirects a request follows; identity providers use one or two.
const MaxRedirects = 5

// Options configure a guarded client.
type Options struct {
	// Allow lists ranges to connect to even though they are blocked by default (an in-house
	// identity provider, loopback with --local).
	Allow []netip.Prefix
	// Timeout bounds each request as a whole, redirects and body included.
	Timeout time.Duration
	// MaxResponseHeaderBytes bounds an answer's headers (0: Go's default, 10 MiB).
	MaxResponseHeaderBytes int64
}

// NewClient returns a client that refuses to connect to blocked addresses outside o.Allow.
func NewClient(o Options) *http.Client {
	g := &guard{allow: normalize(o.Allow)}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, ControlContext: g.control}
	// Proxy stays nil: a proxy from the environment would connect to the target instead of us,
	// and the dial check would see only the proxy's address. The rest is http.DefaultTransport's.
	transport := &http.Transport{
		DialContext:            dialer.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: o.MaxResponseHeaderBytes,
	}
	return &http.Client{
		Timeout:   o.Timeout,
		Transport: transport,
		CheckRedirect: func(_ *http.Request, via []*http.Request) error {
			// via holds the requests already sent: the first one and each redirect followed.
			if len(via) > MaxRedirects {
				return fmt.Errorf("stopped after %d redirects", MaxRedirects)
			}
			return nil
		},
	}
}

// Loopback is what --local allows: the local identity providers and the operator itself listen
// there.
func Loopback() []netip.Prefix {
	return []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
}

// Private lists the private ranges (RFC 1918, shared address space, unique-local IPv6): where
// Pods and Services live. Webhook receivers are applications, often in the same cluster, so
// event delivery allows these; loopback, link-local (the cloud metadata service) and the rest
// stay refused.
func Private() []netip.Prefix {
	var out []netip.Prefix
	for _, r := range blockedRanges {
		if r.name == private {
			out = append(out, r.prefix)
		}
	}
	return out
}

// ParsePrefixes reads a comma-separated list of CIDRs (a bare address means just that address),
// the value of --allow-outbound-cidrs.
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, field := range strings.Split(list, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		if !strings.Contains(field, "/") {
			addr, err := netip.ParseAddr(field)
			if err != nil {
				return nil, fmt.Errorf("%q is neither a CIDR nor an IP address", field)
			}
			out = append(out, netip.PrefixFrom(addr, addr.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(field)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR: %w", field, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// normalize masks prefixes and writes ::ffff:a.b.c.d/n as its IPv4 form, since addresses are
// checked unmapped.
func normalize(prefixes []netip.Prefix) []netip.Prefix {
	out := make([]netip.Prefix, 0, len(prefixes))
	for _, p := range prefixes {
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

type guard struct {
	allow []netip.Prefix
}

// control runs after DNS resolution and before connect(2): address is the ip:port about to be
// dialed, so nothing is sent to a refused address.
func (g *guard) control(_ context.Context, _, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refusing to dial %q: not an IP address and port", address)
	}
	return g.check(ap.Addr())
}

// check refuses addr when it is in a blocked range that no allowed prefix covers, and a cloud
// metadata service that one covers.
func (g *guard) check(addr netip.Addr) error {
	addr = addr.WithZone("")
	eff := effective(addr)
	for _, p := range g.allow {
		if p.Contains(eff) || p.Contains(addr) {
			if isMetadata(eff) {
				return &BlockedError{Addr: addr, Range: metadata}
			}
			return nil
		}
	}
	if name := rangeOf(eff); name != "" {
		return &BlockedError{Addr: addr, Range: name}
	}
	return nil
}
