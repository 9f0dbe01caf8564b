// Package clientaddr names the client a request comes from behind reverse proxies, for the
// per-source limits of the SCIM endpoint and of admin sign-ins.
package clientaddr

import (
	"net/http"
	"net/netip"
	"strings"
)

// Source names the client a request comes from, for the per-source limit and the refusal
// audit. It is the TCP peer, unless the peer is one of the configured reverse proxies (an
// ingress controller): then X-Forwarded-For is read from the right, skipping trusted proxies,
// and the first other address is the client. Only the entries the trusted proxies appended are
// believed, so a client cannot choose its own source by sending the header. An IPv6 client is
// named by its /64, the block one host or subscriber usually holds: rotating addresses inside it
// must not buy a fresh limit each time.
func Source(r *http.Request, trusted []netip.Prefix) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return "unknown"
	}
	addr := peer.Addr().Unmap()
	if inAny(trusted, addr) {
		hops := r.Header.Values("X-Forwarded-For")
	walk:
		for i := len(hops) - 1; i >= 0; i-- {
			parts := strings.Split(hops[i], ",")
			for j := len(parts) - 1; j >= 0; j-- {
				hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
				if err != nil {
					break walk // a malformed entry: nothing left of it can be trusted
				}
				addr = hop.Unmap()
				if !inAny(trusted, addr) {
					break walk
				}
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func inAny(prefixes []netip.Prefix, addr netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
