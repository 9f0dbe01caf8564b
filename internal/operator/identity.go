package operator

import (
	"errors"
	"net/netip"
	"net/url"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// CheckProxyTrust refuses to start with proxy headers trusted from anywhere: the operator itself
// gives every tenant a Service pointing at the data plane, so "anywhere" includes every tenant.
func CheckProxyTrust(trust bool, cidrs []netip.Prefix) error {
	if trust && len(cidrs) == 0 {
		return errors.New("--trust-proxy-headers needs --trusted-proxy-cidrs: the addresses of your authenticating proxy " +
			"(for a proxy in the same pod, 127.0.0.1/32); otherwise any tenant could route a request with forged " +
			"X-Remote-User/X-Remote-Group headers to the data plane")
	}
	return nil
}

// trustedOrigins is the public origin of the data plane (--external-url), from which browsers may
// send admin API actions even when a proxy rewrote the Host header.
func trustedOrigins(externalURL string) []string {
	u, err := url.Parse(externalURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil
	}
	return []string{u.Scheme + "://" + u.Host}
}

// +kubebuilder:rbac:groups="",resources=users;groups;serviceaccounts,verbs=impersonate
// Impersonating a UID needs impersonate on authentication.k8s.io uids, an extra on
// userextras/<key>. RBAC has no "userextras/*" wildcard (a rule's resource matches exactly, or is
// "*" or "*/<subresource>"), and extras keys are not known in advance (each authenticator names
// its own), so the rule is every resource of the group; with the verb impersonate that is exactly
// uids and userextras, nothing else.
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=*,verbs=impersonate

// impersonator returns clients acting as an admin: the wizard and the admin API write CRs as the
// person, with the UID, groups and extras the API server gave them, so Kubernetes RBAC decides and
// its audit log names them. service.Identity.ImpersonationConfig decides which "system:" names
// pass; local (--local) admits the private control plane's cluster admin.
func impersonator(mgr ctrl.Manager, local bool) func(service.Identity) (client.Client, error) {
	return func(who service.Identity) (client.Client, error) {
		imp, err := who.ImpersonationConfig(local)
		if err != nil {
			return nil, err
		}
		cfg := rest.CopyConfig(mgr.GetConfig())
		cfg.Impersonate = imp
		return client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	}
}
