package adminapi

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// localHostRefusal refuses --local's admin to a request not addressed to this machine by name:
// the Host must be localhost (or a name under .localhost), a loopback address, or the host of a
// trusted origin (--external-url). The local admin is ambient, every request carries it, and a
// page on another site reaches a loopback listener under a name of its own by DNS rebinding:
// the browser then holds the wizard for that site's origin, so its reads and its form posts are
// same-origin (Origin and Sec-Fetch-Site agree) and only the Host it sends tells them apart.
// Browsers resolve localhost and .localhost to loopback themselves, so no site can rebind them.
func (s *Server) localHostRefusal(r *http.Request) *service.Error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return nil
	}
	for _, o := range s.TrustedOrigins {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" && strings.EqualFold(u.Hostname(), host) {
			return nil
		}
	}
	return service.Refuse(http.StatusMisdirectedRequest,
		"With --local, the wizard and admin API answer only at localhost, a loopback address or the --external-url's host: "+
			"a page on another site can give its own name to this machine's address (DNS rebinding) and act as the local admin")
}
