package adminapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// localHost says whether a request may be --local's admin: only when addressed to this machine
// by a loopback name or address (localhost, a name under .localhost, 127.0.0.0/8, ::1). The local
// admin is ambient, every request carries it, and a page on another site reaches a loopback
// listener under a name of its own by DNS rebinding: the browser then holds the wizard for that
// site's origin, so its reads and its form posts are same-origin (Origin and Sec-Fetch-Site
// agree) and only the Host it sends tells them apart. Browsers resolve localhost and .localhost
// to loopback themselves, so no site can rebind them. Any other host, --external-url's included
// (a tunnel for a real identity provider), signs in as without --local.
func localHost(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// notLocalHint says why a request with --local got no identity, when that is why.
func (s *Server) notLocalHint(r *http.Request) string {
	if s.LocalUser == nil || localHost(r) {
		return ""
	}
	return " (with --local, only requests addressed to localhost or a loopback address are the local admin, " +
		"so that a page on another site cannot reach it under a name of its own by DNS rebinding; sign in with a token)"
}
