package events

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/provisioning"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// openStore opens a SQLite store for one test, closed when it ends.
func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// pairOf is subscription name (UID namespace-name) of namespace delivering to url the events of
// the organization named like the namespace.
func pairOf(namespace, name, url, key string) job {
	sub := &v1alpha1.EventSubscription{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: types.UID(namespace + "-" + name)},
		Spec: v1alpha1.EventSubscriptionSpec{URL: url}}
	return job{sub: sub, org: tenant.Organization{Name: namespace, Integration: types.NamespacedName{Namespace: namespace, Name: namespace}}, keys: []string{key}}
}

// createUser creates a user of org with doc, under the default policy: one event.
func createUser(t *testing.T, st store.Store, org, id string, doc []byte) {
	t.Helper()
	p := provisioning.DefaultPolicy
	now := time.Now()
	u := &store.Resource{Org: org, Kind: store.KindUser, ID: id, Name: id, Active: true, Doc: doc, Created: now, Modified: now, Version: 1}
	if err := st.Create(context.Background(), u, nil, store.Write{Policy: &p}); err != nil {
		t.Fatal(err)
	}
}

// answeringPair is acme's subscription to a receiver answering status, and its deliverer.
func answeringPair(t *testing.T, st store.Store, status int) (*flaky, *Deliverer, job) {
	t.Helper()
	key, _ := NewSigningKey()
	rc := &flaky{key: key, status: status}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, &Deliverer{Store: st, HTTP: srv.Client()}, pairOf("acme", "hr", srv.URL, key)
}

// failingPair is acme's subscription to a receiver answering 503, delivered by a deliverer on a
// clock the test moves (*now).
func failingPair(t *testing.T, st store.Store) (*flaky, *Deliverer, job, *time.Time) {
	t.Helper()
	rc, d, j := answeringPair(t, st, http.StatusServiceUnavailable)
	now := time.Now()
	d.Now = func() time.Time { return now }
	return rc, d, j, &now
}

// aMoment is a time strictly between what was written before and what is written after it: a
// cut for pruning by time.
func aMoment() time.Time {
	time.Sleep(2 * time.Millisecond)
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	return cut
}
