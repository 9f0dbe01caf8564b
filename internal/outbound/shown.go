package outbound

import "net/url"

// Shown is a tenant's URL as the operator shows it (conditions, the wizard): its scheme, host and
// path only. Its user information or query may hold a credential the receiver asks for, and what
// is shown is readable by more people than the URL's object (a condition by whoever reads the
// object, the wizard by whoever may read the organization's ScimIntegration). "" when it is not
// a URL.
func Shown(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
