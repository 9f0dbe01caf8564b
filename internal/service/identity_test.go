package service

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/client-go/rest"
)

// The operator may impersonate anyone, so what it claims for a caller is decided here, whatever
// built the Identity: no "system:" name the API server did not give, and no system:masters
// outside --local.
func TestImpersonationConfig(t *testing.T) {
	sa := "system:serviceaccount:acme:auditor"
	extra := map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}}
	for _, tc := range []struct {
		name  string
		who   Identity
		local bool
		want  rest.ImpersonationConfig
		err   bool
	}{
		{name: "a person from the proxy, system: groups dropped",
			who:  Identity{User: "alice", Groups: []string{"acme-admins", "system:masters", "system:nodes", "system:authenticated"}},
			want: rest.ImpersonationConfig{UserName: "alice", Groups: []string{"acme-admins", "system:authenticated"}}},
		{name: "a proxy identity carries no UID or extras", who: Identity{User: "alice", UID: "u", Extra: extra},
			want: rest.ImpersonationConfig{UserName: "alice", Groups: []string{}}},
		{name: "a system: user from the proxy", who: Identity{User: "system:admin"}, err: true},
		{name: "a service account named by the proxy", who: Identity{User: sa}, err: true},
		{name: "a reviewed person keeps UID and extras",
			who:  Identity{User: "alice", UID: "u-1", Groups: []string{"oidc:admins", "system:masters"}, Extra: extra, Source: Reviewed},
			want: rest.ImpersonationConfig{UserName: "alice", UID: "u-1", Groups: []string{"oidc:admins"}, Extra: extra}},
		{name: "a reviewed service account keeps its own groups only",
			who: Identity{User: sa, UID: "u-2", Source: Reviewed, Extra: extra,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:acme", "system:serviceaccounts:other", "system:masters", "system:authenticated"}},
			want: rest.ImpersonationConfig{UserName: sa, UID: "u-2", Extra: extra,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:acme", "system:authenticated"}}},
		{name: "a reviewed node", who: Identity{User: "system:node:n1", Groups: []string{"system:nodes"}, Source: Reviewed}, err: true},
		{name: "a malformed service account name", who: Identity{User: "system:serviceaccount:acme", Source: Reviewed}, err: true},
		{name: "the local admin with --local", local: true,
			who:  Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: Local},
			want: rest.ImpersonationConfig{UserName: "local-admin", Groups: []string{"system:masters"}}},
		{name: "the local admin without --local", who: Identity{User: "local-admin", Groups: []string{"system:masters"}, Source: Local}, err: true},
		{name: "nobody", who: Identity{}, err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.who.ImpersonationConfig(tc.local)
			if tc.err {
				var e *Error
				if !errors.As(err, &e) || e.Status != http.StatusForbidden {
					t.Fatalf("want a 403 refusal, got %+v, %v", got, err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
}

// A TokenReview's answer becomes the identity, UID and extras included; system components are
// refused outright.
func TestReviewedIdentity(t *testing.T) {
	who, err := reviewedIdentity(authenticationv1.UserInfo{Username: "system:serviceaccount:acme:auditor", UID: "u-2",
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:acme", "system:authenticated"},
		Extra:  map[string]authenticationv1.ExtraValue{"authentication.kubernetes.io/credential-id": {"JTI=1"}}})
	if err != nil || who.Source != Reviewed || who.UID != "u-2" || len(who.Groups) != 3 ||
		!reflect.DeepEqual(who.Extra, map[string][]string{"authentication.kubernetes.io/credential-id": {"JTI=1"}}) {
		t.Fatalf("service account: %+v, %v", who, err)
	}
	for _, user := range []string{"system:admin", "system:kube-controller-manager", "system:node:n1", "system:anonymous"} {
		if _, err := reviewedIdentity(authenticationv1.UserInfo{Username: user}); err == nil {
			t.Errorf("%s was accepted", user)
		}
	}
}
