package adminapi

import (
	"net"
	"net/http"
)

// sourceAddress is the TCP peer's address (never a forwarded header, which the peer chooses).
func sourceAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
