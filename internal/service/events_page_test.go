package service

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// A role of the most permissions a RoleTemplate allows (256 of 128 bytes) rides on every member
// event of a page: the page stops at about 2 MiB of snapshots and permissions, not at 500 events
// of 33 KB each (17 MB built in memory per request), and the next page goes on from there.
func TestAPageOfEventsIsBoundedWithItsPermissions(t *testing.T) {
	ctx := t.Context()
	db := openStore(t)
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var permissions []string
	for i := range 256 {
		permissions = append(permissions, fmt.Sprintf("p%03d:", i)+strings.Repeat("x", 123))
	}
	k8s := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&v1alpha1.RoleTemplate{
		ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "big"}, Spec: v1alpha1.RoleTemplateSpec{Permissions: permissions}}).Build()
	svc := &Service{Store: db, Client: k8s, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	org := &tenant.Organization{Name: "acme", Integration: types.NamespacedName{Namespace: "acme", Name: "acme"}}
	policy := provisioning.Policy{AutoActivate: true, DefaultRole: "big"}
	const users = 120
	now := time.Now().UTC()
	for i := range users {
		u := &store.Resource{Org: "acme", Kind: store.KindUser, ID: fmt.Sprint("u", i), Name: fmt.Sprintf("user%d", i), Active: true,
			Doc: []byte(`{}`), Created: now, Modified: now, Version: 1}
		if err := db.Create(ctx, u, nil, store.Write{Policy: &policy}); err != nil {
			t.Fatal(err)
		}
	}
	var after int64
	seen, pages := 0, 0
	for seen < users && pages < users {
		page, err := svc.Events(ctx, org, after, MaxEventPage, 0)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(page)
		if len(page.Items) > 1 && len(body) > 3<<20 {
			t.Fatalf("a page of %d events is %d bytes", len(page.Items), len(body))
		}
		if len(page.Items) == 0 || page.Next != page.Items[len(page.Items)-1].Sequence {
			t.Fatalf("page after %d: %d events, next %d", after, len(page.Items), page.Next)
		}
		if got := page.Items[0].Data.Member; got == nil || len(got.Permissions) != 256 {
			t.Fatalf("an event's member carries %v, want the role's 256 permissions", got)
		}
		seen += len(page.Items)
		after, pages = page.Next, pages+1
	}
	if seen < users || pages < 2 {
		t.Fatalf("%d events in %d pages, want all %d in two or more", seen, pages, users)
	}
}
