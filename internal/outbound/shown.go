package outbound

import "net/url"

// Shown is a tenant's URL as the operator shows it (conditions, the wizard): its scheme and host,
// and "/…" standing for a path. Its user information, path or query may hold a credential the
// receiver asks for (webhook gateways put theirs in the path: /hooks/catch/<id>/<secret>/), and
// what is shown is readable by more people than the URL's object (a condition by whoever reads
// the object, the wizard by whoever may read the organization's ScimIntegration). "" when it is
// not a URL.
func Shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	shown := (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	if u.Path != "" && u.Path != "/" {
		shown += "/…"
	}
	return shown
}
