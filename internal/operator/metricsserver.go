package operator

import (
	"crypto/tls"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// MetricsServerOptions configures /metrics. Secure serves HTTPS (the certificate in certDir, as
// tls.crt and tls.key, or a self-signed one when absent) and answers only callers the API server
// authenticates (TokenReview) and authorizes for GET on the non-resource URL /metrics
// (SubjectAccessReview): in a cluster, the series name every organization served here. Without
// secure, plain HTTP for anyone who reaches the port (--local, a loopback address).
func MetricsServerOptions(addr string, secure bool, certDir string) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr}
	if !secure {
		return o
	}
	o.SecureServing = true
	o.CertDir = certDir
	o.FilterProvider = limitedAuthentication // metrics_limit.go
	// HTTP/1.1 only: HTTP/2's stream reset and continuation floods (CVE-2023-44487,
	// CVE-2023-39325) need no credentials to cost the server, and a scraper gains nothing from it.
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	return o
}
