package service

import (
	"net/http"
	"slices"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
)

// Identity is the authenticated caller, as the operator names them to Kubernetes: in
// SubjectAccessReviews, and when it impersonates them to write.
type Identity struct {
	User string
	// UID and Extra come from a TokenReview only; they are passed on unchanged (some authorizers
	// and admission policies narrow a token's power by its extras, so dropping one could widen it).
	UID    string
	Groups []string
	Extra  map[string][]string
	// Source says who vouches for the identity; it decides which "system:" names it may carry.
	Source Source
}

// clone is a copy of the identity sharing no slice or map with it.
func (i Identity) clone() Identity {
	i.Groups = slices.Clone(i.Groups)
	if i.Extra != nil {
		extra := make(map[string][]string, len(i.Extra))
		for k, v := range i.Extra {
			extra[k] = slices.Clone(v)
		}
		i.Extra = extra
	}
	return i
}

// Source is who vouches for an Identity.
type Source int

const (
	// Asserted: an authenticating proxy's headers named the caller; only the proxy's address
	// vouches for them. The zero value, and the most restricted.
	Asserted Source = iota
	// Reviewed: the API server authenticated the caller's own token (TokenReview).
	Reviewed
	// Local: --local's cluster admin, of a control plane the process started for itself.
	Local
)

// The rule for "system:" names. The operator may impersonate any user and group, so its
// impersonation must never let a caller gain a power the API server did not give them:
//
//   - A "system:" user is never acted for, except a service account
//     (system:serviceaccount:<namespace>:<name>) whose own token a TokenReview accepted. Nodes,
//     controllers, system:admin and system:anonymous are components, not admins.
//   - Of the "system:" groups only system:authenticated is kept (the API server adds it to every
//     impersonated user anyway) and, for such a service account, system:serviceaccounts and
//     system:serviceaccounts:<its namespace> (which the API server derives from the name itself).
//     Every other "system:" group is dropped, system:masters above all: it bypasses RBAC, and the
//     wizard and API must act within RBAC. Proxy headers never carry a "system:" name.
//   - Local (--local, a private control plane) is the one exception: its system:masters admin is
//     honoured only when the process runs with --local (see ImpersonationConfig).
const systemPrefix = "system:"

// serviceAccountNamespace returns the namespace of a service account user name.
func serviceAccountNamespace(user string) (string, bool) {
	tail, ok := strings.CutPrefix(user, "system:serviceaccount:")
	namespace, name, found := strings.Cut(tail, ":")
	if !ok || !found || namespace == "" || name == "" || strings.Contains(name, ":") {
		return "", false
	}
	return namespace, true
}

// userAllowed applies the rule to the user name.
func userAllowed(user string, src Source) bool {
	if user == "" {
		return false
	}
	if !strings.HasPrefix(user, systemPrefix) {
		return true
	}
	_, isSA := serviceAccountNamespace(user)
	return isSA && src == Reviewed
}

// keptGroups applies the rule to the groups (in their order, without duplicates).
func keptGroups(user string, groups []string, src Source) []string {
	allowed := map[string]bool{"system:authenticated": true}
	if ns, isSA := serviceAccountNamespace(user); isSA && src == Reviewed {
		allowed["system:serviceaccounts"], allowed["system:serviceaccounts:"+ns] = true, true
	}
	out := make([]string, 0, len(groups))
	for _, g := range groups {
		if g == "" || slices.Contains(out, g) || (strings.HasPrefix(g, systemPrefix) && !allowed[g]) {
			continue
		}
		out = append(out, g)
	}
	return out
}

// reviewedIdentity is the Identity of a user a TokenReview authenticated, or a refusal for a
// Kubernetes system identity.
func reviewedIdentity(u authenticationv1.UserInfo) (Identity, error) {
	if !userAllowed(u.Username, Reviewed) {
		return Identity{}, Refuse(http.StatusForbidden,
			"%s is a Kubernetes system identity; the admin API and the wizard act only for people and service accounts", u.Username)
	}
	extra := make(map[string][]string, len(u.Extra))
	for k, v := range u.Extra {
		extra[k] = slices.Clone(v)
	}
	if len(extra) == 0 {
		extra = nil
	}
	return Identity{User: u.Username, UID: u.UID, Groups: keptGroups(u.Username, u.Groups, Reviewed), Extra: extra, Source: Reviewed}, nil
}

// AssertedIdentity is the Identity an authenticating proxy names (false: none it may name). A
// proxy speaks for people from the identity provider, never for Kubernetes' own identities:
// "system:" users are refused and "system:" groups (system:masters above all) dropped.
func AssertedIdentity(user string, groups []string) (Identity, bool) {
	if user == "" || strings.HasPrefix(user, systemPrefix) {
		return Identity{}, false
	}
	// Every authenticated user is in system:authenticated, as the API server would say.
	kept := keptGroups(user, append(slices.Clone(groups), "system:authenticated"), Asserted)
	return Identity{User: user, Groups: kept, Source: Asserted}, true
}

// ImpersonationConfig is how the operator acts as who, applying the rule above once more
// whatever built the Identity. local says the process runs with --local; only then is a Local
// identity (the private control plane's system:masters admin) impersonated as it is.
func (who Identity) ImpersonationConfig(local bool) (rest.ImpersonationConfig, error) {
	if who.Source == Local {
		if !local || who.User == "" {
			return rest.ImpersonationConfig{}, Refuse(http.StatusForbidden, "The local cluster admin exists only with --local")
		}
		return rest.ImpersonationConfig{UserName: who.User, Groups: slices.Clone(who.Groups)}, nil
	}
	if !userAllowed(who.User, who.Source) {
		return rest.ImpersonationConfig{}, Refuse(http.StatusForbidden,
			"The operator does not act as %q: Kubernetes system identities are not impersonated", who.User)
	}
	cfg := rest.ImpersonationConfig{UserName: who.User, Groups: keptGroups(who.User, who.Groups, who.Source)}
	if who.Source == Reviewed {
		cfg.UID, cfg.Extra = who.UID, who.Extra
	}
	return cfg, nil
}
