package adminapi

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// Proxy headers name a user, so they are only as trustworthy as whoever can send them. The
// operator creates in every tenant's namespace a Service pointing at the data plane, so a tenant
// can route its own Ingress there and send any header it likes: a network policy admitting the
// ingress controller does not help. The headers are therefore believed only from a TCP peer
// (r.RemoteAddr, never X-Forwarded-For, which the sender writes) inside a configured network.

// ParseCIDRs reads a comma-separated list of networks (--trusted-proxy-cidrs). A network
// containing every address (0.0.0.0/0, ::/0) is refused: it would trust everyone.
func ParseCIDRs(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(list, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR such as 10.1.2.3/32 or fd00::/64: %w", part, err)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 { // ::ffff:a.b.c.d/n is the IPv4 network a.b.c.d/(n-96)
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		if p.Bits() == 0 {
			return nil, fmt.Errorf("%q trusts every address; name only your authenticating proxy's addresses", part)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// fromTrustedProxy says whether the TCP peer of r is inside a trusted network.
func (s *Server) fromTrustedProxy(r *http.Request) bool {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	addr := peer.Addr().Unmap()
	for _, p := range s.TrustedProxies {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// proxyIdentity reads X-Remote-User and X-Remote-Group, when they come from a trusted proxy. A
// proxy speaks for people from the identity provider, never for Kubernetes' own identities:
// "system:" users are refused and "system:" groups (system:masters above all) dropped.
func (s *Server) proxyIdentity(r *http.Request) (service.Identity, bool) {
	if !s.TrustProxyHeaders || !s.fromTrustedProxy(r) {
		return service.Identity{}, false
	}
	var groups []string
	for _, g := range r.Header.Values("X-Remote-Group") {
		for _, part := range strings.Split(g, ",") {
			groups = append(groups, strings.TrimSpace(part))
		}
	}
	return service.AssertedIdentity(strings.TrimSpace(r.Header.Get("X-Remote-User")), groups)
}
