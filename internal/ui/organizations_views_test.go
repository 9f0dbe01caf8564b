package ui

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// credentialIDExtra is the extra naming one service account token (Kubernetes 1.30+).
const credentialIDExtra = "authentication.kubernetes.io/credential-id"

// orgPageFixture is the wizard on a real API server, with one organization in namespace ns
// that every service account there may read, and the reviews it sends counted.
type orgPageFixture struct {
	t      *testing.T
	ns     string
	admin  client.Client
	mux    *http.ServeMux
	svc    *service.Service
	counts *reviewCounts
}

func newOrgPageFixture(t *testing.T, ns string, beforeAccessReview func(context.Context, client.Object)) *orgPageFixture {
	t.Helper()
	cfg := realAPIServer(t)
	admin, err := client.New(cfg, client.Options{Scheme: testScheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	group := rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "system:serviceaccounts:" + ns}
	for _, obj := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "read-organizations"}, Rules: []rbacv1.PolicyRule{{
			Verbs: []string{"get", "list", "watch"}, APIGroups: []string{v1alpha1.GroupVersion.Group},
			Resources: []string{"enterpriseidentities", "scimintegrations"}}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "read-organizations"}, Subjects: []rbacv1.Subject{group},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "read-organizations"}},
		&v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "acme"},
			Spec: v1alpha1.EnterpriseIdentitySpec{Organization: ns + "-acme", DisplayName: "Acme of " + ns,
				SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{MetadataURL: "https://idp.acme.example/saml/metadata"}}}},
	} {
		if err := admin.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	st, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "identity.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	p := &orgPageFixture{t: t, ns: ns, admin: admin, mux: http.NewServeMux(), counts: &reviewCounts{}}
	log := slog.New(slog.DiscardHandler)
	p.svc = &service.Service{Store: st, Client: countingClient(t, cfg, p.counts, beforeAccessReview), Log: log,
		Impersonate: impersonating(cfg, p.counts)}
	s := &Server{Service: p.svc, Auth: &adminapi.Server{Service: p.svc, Log: log}, Client: cachedClient(t, cfg),
		Impersonate: p.svc.Impersonate, Log: log}
	s.Routes(p.mux)
	return p
}

// token is a fresh token of the namespace's service account name (created when missing), as
// kubectl create token gives.
func (p *orgPageFixture) token(name string) string {
	p.t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: p.ns, Name: name}}
	if err := p.admin.Create(p.t.Context(), sa); err != nil && !apierrors.IsAlreadyExists(err) {
		p.t.Fatal(err)
	}
	req := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](600)}}
	if err := p.admin.SubResource("token").Create(p.t.Context(), sa, req); err != nil {
		p.t.Fatal(err)
	}
	return req.Status.Token
}

// view asks for the organizations page with a bearer token, from an address of its own.
func (p *orgPageFixture) view(token, source string) *httptest.ResponseRecorder {
	r := httptest.NewRequestWithContext(p.t.Context(), "GET", "http://wizard.example.com"+Path, nil)
	r.RemoteAddr = source + ":40000"
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	p.mux.ServeHTTP(w, r)
	return w
}

// A tenant's fresh tokens for one service account differ only in their credential ID: the page's
// answers, kept for its holder, serve them all, so minting tokens does not buy access reviews.
func TestAFreshTokenOfTheSameAccountMakesNoNewAccessChecks(t *testing.T) {
	p := newOrgPageFixture(t, "fresh-tokens", nil)
	first, second := p.token("bot"), p.token("bot")
	var ids []string
	for _, tok := range []string{first, second} {
		who, ok, err := p.svc.SignIn(t.Context(), "10.1.0.1", tok)
		if err != nil || !ok {
			t.Fatalf("the API server refused a fresh token: %v", err)
		}
		ids = append(ids, who.Extra[credentialIDExtra]...)
	}
	if len(ids) != 2 || ids[0] == ids[1] {
		t.Fatalf("credential IDs %v: want the two tokens told apart by theirs", ids)
	}
	if w := p.view(first, "10.1.0.1"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Acme of fresh-tokens") {
		t.Fatalf("the first view answered %d:\n%s", w.Code, w.Body)
	}
	asked := p.counts.access.Load()
	if w := p.view(second, "10.1.0.1"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Acme of fresh-tokens") {
		t.Fatalf("the second view answered %d:\n%s", w.Code, w.Body)
	}
	if n := p.counts.access.Load() - asked; asked == 0 || n != 0 {
		t.Fatalf("the first view asked RBAC %d times, the second, with a fresh token, %d; want none", asked, n)
	}
}

// Views of many identities at once: at most maxViewsPreparing are prepared together, the
// others are asked to reload in a moment (429) rather than each asking RBAC about every
// namespace at the same time.
func TestViewsOfTheOrganizationsPageArePreparedAFewAtATime(t *testing.T) {
	const identities = 10
	var mu sync.Mutex
	preparing := map[string]bool{}
	release := make(chan struct{})
	open := sync.OnceFunc(func() { close(release) })
	t.Cleanup(open) // a failed test leaves no view waiting
	p := newOrgPageFixture(t, "many-views", func(ctx context.Context, review client.Object) {
		if sar, ok := review.(*authorizationv1.SubjectAccessReview); ok {
			mu.Lock()
			preparing[sar.Spec.User] = true
			mu.Unlock()
			select {
			case <-release:
			case <-ctx.Done():
			}
		}
	})
	tokens := make([]string, identities)
	for i := range tokens {
		tokens[i] = p.token("viewer-" + strconv.Itoa(i))
		if _, ok, err := p.svc.SignIn(t.Context(), "10.2.0.1", tokens[i]); err != nil || !ok {
			t.Fatalf("the API server refused viewer %d's token: %v", i, err)
		}
	}
	codes := make([]int, identities)
	var answered atomic.Int64
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = p.view(tokens[i], "10.2.0."+strconv.Itoa(i+10)).Code
			answered.Add(1)
		}()
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(preparing)
	}
	for deadline := time.Now().Add(30 * time.Second); count()+int(answered.Load()) < identities; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d views preparing and %d answered, of %d", count(), answered.Load(), identities)
		}
	}
	if n := count(); n > maxViewsPreparing || int(answered.Load()) != identities-n {
		t.Fatalf("%d views prepared at once (%d answered meanwhile), want at most %d", n, answered.Load(), maxViewsPreparing)
	}
	open()
	wg.Wait()
	ok, refused := 0, 0
	for _, code := range codes {
		switch code {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			refused++
		}
	}
	if ok != count() || refused != identities-ok {
		t.Fatalf("%d views shown and %d refused with 429, of %d (%d prepared)", ok, refused, identities, count())
	}
}
