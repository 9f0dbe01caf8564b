package service

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// countingStore counts the store reads a page of members costs.
type countingStore struct {
	store.Store
	usersByID, groupsOf, get atomic.Int64
}

func (c *countingStore) UsersByID(ctx context.Context, org string, ids []string) (map[string]*store.Resource, error) {
	c.usersByID.Add(1)
	return c.Store.UsersByID(ctx, org, ids)
}

func (c *countingStore) GroupsOf(ctx context.Context, org string, ids []string, limit int) (map[string][]store.Member, int, error) {
	c.groupsOf.Add(1)
	return c.Store.GroupsOf(ctx, org, ids, limit)
}

func (c *countingStore) Get(ctx context.Context, org string, kind store.Kind, id string) (*store.Resource, error) {
	c.get.Add(1)
	return c.Store.Get(ctx, org, kind, id)
}

// Members come with their emails, name, groups and the permissions of their role, for a page of
// any length at the cost of one read of each kind; a role without its RoleTemplate says so.
func TestMembersCarryEmailsGroupsAndPermissions(t *testing.T) {
	ctx := t.Context()
	db := openStore(t)
	st := &countingStore{Store: db}

	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var lists atomic.Int64
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&v1alpha1.RoleTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "engineer"},
			Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Engineer", Permissions: []string{"projects:write", "deploy:staging"}}},
		&v1alpha1.RoleTemplate{ObjectMeta: metav1.ObjectMeta{Namespace: "other", Name: "admin"},
			Spec: v1alpha1.RoleTemplateSpec{DisplayName: "Admin of another namespace", Permissions: []string{"everything"}}},
	).WithInterceptorFuncs(interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
		lists.Add(1)
		return c.List(ctx, list, opts...)
	}}).Build()
	svc := &Service{Store: st, Client: k8s, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	org := &tenant.Organization{Name: "acme", Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}}

	policy := provisioning.Policy{AutoActivate: true, OnDeactivate: provisioning.Suspend, OnDelete: provisioning.Deactivate,
		DefaultRole: "engineer", GroupRoles: []provisioning.GroupRole{{Group: "Admins", Role: "admin"}}}
	now := time.Now().UTC()
	create := func(r *store.Resource, members ...string) {
		t.Helper()
		r.Org, r.Created, r.Modified, r.Version = "acme", now, now, 1
		if err := st.Create(ctx, r, members, store.Write{Policy: &policy}); err != nil {
			t.Fatal(err)
		}
	}
	create(&store.Resource{Kind: store.KindUser, ID: "u1", Name: "ada@acme.example", Active: true, Doc: []byte(`{"userName":"ada@acme.example",
		"name":{"givenName":"Ada","familyName":"Lovelace"},
		"emails":[{"value":"ada@acme.example","type":"work","primary":true},{"value":"ada@home.example","type":"home"}]}`)})
	create(&store.Resource{Kind: store.KindUser, ID: "u2", Name: "bob@acme.example", Active: true, Doc: []byte(`{"userName":"bob@acme.example"}`)})
	create(&store.Resource{Kind: store.KindUser, ID: "u3", Name: "cy@acme.example", Active: true, Doc: []byte(`{"userName":"cy@acme.example"}`)})
	create(&store.Resource{Kind: store.KindGroup, ID: "g1", Name: "Engineering", Doc: []byte(`{"displayName":"Engineering"}`)}, "u1", "u2")
	create(&store.Resource{Kind: store.KindGroup, ID: "g2", Name: "Admins", Doc: []byte(`{"displayName":"Admins"}`)}, "u2")

	list, next, err := svc.Members(ctx, org, store.MemberQuery{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if next != "" || len(list) != 3 {
		t.Fatalf("members: %d, next %q", len(list), next)
	}
	ada, bob, cy := list[0], list[1], list[2]
	if ada.FullName() != "Ada Lovelace" || ada.Name.GivenName != "Ada" || ada.Name.FamilyName != "Lovelace" {
		t.Errorf("ada's name: %+v", ada.Name)
	}
	wantEmails := []store.Email{{Value: "ada@acme.example", Type: "work", Primary: true}, {Value: "ada@home.example", Type: "home"}}
	if !reflect.DeepEqual(ada.Emails, wantEmails) {
		t.Errorf("ada's emails: %+v", ada.Emails)
	}
	if !reflect.DeepEqual(ada.Groups, []store.GroupRef{{ID: "g1", DisplayName: "Engineering"}}) {
		t.Errorf("ada's groups: %+v", ada.Groups)
	}
	if ada.Member.Role != "engineer" || ada.RoleDisplayName != "Engineer" || ada.RoleTemplateMissing ||
		!reflect.DeepEqual(ada.Permissions, []string{"projects:write", "deploy:staging"}) {
		t.Errorf("ada's role: %q %q %v missing=%v", ada.Member.Role, ada.RoleDisplayName, ada.Permissions, ada.RoleTemplateMissing)
	}
	// bob is in Admins, mapped to a RoleTemplate that exists only in another namespace.
	if bob.Member.Role != "admin" || !bob.RoleTemplateMissing || len(bob.Permissions) != 0 || bob.Permissions == nil || len(bob.Groups) != 2 {
		t.Errorf("bob: role %q missing=%v permissions %v groups %+v", bob.Member.Role, bob.RoleTemplateMissing, bob.Permissions, bob.Groups)
	}
	if cy.Emails == nil || len(cy.Emails) != 0 || len(cy.Groups) != 0 || cy.FullName() != "" {
		t.Errorf("cy, with no email, name or group: %+v", cy)
	}
	if st.usersByID.Load() != 1 || st.groupsOf.Load() != 1 || st.get.Load() != 0 || lists.Load() != 1 {
		t.Errorf("a page of 3 cost %d user reads, %d group reads, %d single gets, %d RoleTemplate lists; want 1, 1, 0, 1",
			st.usersByID.Load(), st.groupsOf.Load(), st.get.Load(), lists.Load())
	}

	one, err := svc.Member(ctx, org, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if len(one.Emails) != 2 || len(one.Groups) != 1 || len(one.Permissions) != 2 || len(one.History) == 0 {
		t.Errorf("one member: %+v", one)
	}
}
