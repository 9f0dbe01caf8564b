package main

import (
	"flag"

	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/z8z8/enterprise-identity-operator/internal/operator"
)

// metricsServing is how /metrics is protected: plain HTTP by default (--local, a loopback
// address), HTTPS with Kubernetes authentication and authorization with --metrics-secure (the
// chart and config/default turn it on).
type metricsServing struct {
	secure  bool
	certDir string
}

func (m *metricsServing) bindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&m.secure, "metrics-secure", false,
		"Serve /metrics over HTTPS to callers the API server authenticates and authorizes (get on the non-resource URL /metrics). "+
			"Use it in a cluster; the manager then needs create on tokenreviews and subjectaccessreviews.")
	fs.StringVar(&m.certDir, "metrics-cert-dir", "",
		"With --metrics-secure: folder holding tls.crt and tls.key for /metrics (reloaded when they change). Empty: a self-signed certificate.")
}

func (m *metricsServing) options(addr string) metricsserver.Options {
	return operator.MetricsServerOptions(addr, m.secure, m.certDir)
}
