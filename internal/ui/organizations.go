package ui

import (
	"context"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/claims"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// organization is one EnterpriseIdentity and, once SCIM is set up, its ScimIntegration.
type organization struct {
	Identity *v1alpha1.EnterpriseIdentity
	Scim     *v1alpha1.ScimIntegration
	// Live is the provisioning status read from the store (fresher than the CR's summary), when
	// the organization is served and the admin may read it.
	Live *service.Status
}

// URL is the organization's place in the wizard.
func (o *organization) URL() string {
	return Path + "/" + o.Identity.Namespace + "/" + o.Identity.Name
}

// Name is the organization slug.
func (o *organization) Name() string { return o.Identity.Spec.Organization }

// Title is the display name, or the slug.
func (o *organization) Title() string {
	if o.Identity.Spec.DisplayName != "" {
		return o.Identity.Spec.DisplayName
	}
	return o.Identity.Spec.Organization
}

// SSO says where SSO stands; an organization name another EnterpriseIdentity holds, or whose
// data another namespace keeps, is shown as the failure it is, whatever the SSO checks say.
func (o *organization) SSO() condition {
	if c := o.Identity.HeldElsewhere(); c != nil {
		return condition{State: "failed", Reason: c.Reason, Text: c.Message}
	}
	return conditionOf(o.Identity.Status.Conditions, v1alpha1.ConditionSSOReady, o.Identity.Generation)
}

// SSOReady is the product rule's gate: SCIM only after SSO is configured and valid.
func (o *organization) SSOReady() bool { return o.SSO().State == "ready" }

// SCIM says where provisioning stands.
func (o *organization) SCIM() condition {
	if o.Scim == nil {
		return condition{State: "off", Text: "Not set up"}
	}
	return conditionOf(o.Scim.Status.Conditions, v1alpha1.ConditionReady, o.Scim.Generation)
}

// Serving says the data plane serves the organization, so its SCIM pages have data.
func (o *organization) Serving() bool {
	return o.Scim != nil && o.Scim.Serving()
}

// Pending says whether the operator is still working on something the page waits for.
func (o *organization) Pending() bool {
	if o.SSO().State == "waiting" {
		return true
	}
	if o.Scim == nil {
		return false
	}
	if o.SCIM().State == "waiting" {
		return true
	}
	// A rotation asked for in the spec or by the rotate-token annotation (the wizard's) that the
	// current token does not answer yet: the page waits for the new token.
	t := o.Scim.Status.Token
	request := token.RotationRequestMark(o.Scim.Annotations[v1alpha1.AnnotationRotateToken])
	unanswered := t == nil || t.Rotation != o.Scim.Spec.Token.Rotation || (request != "" && t.RotationRequest != request)
	return o.Scim.Spec.Token.SecretRef == nil && unanswered &&
		!meta.IsStatusConditionFalse(o.Scim.Status.Conditions, v1alpha1.ConditionSSOReady)
}

// condition is a status condition in words: State is ready, waiting or failed.
type condition struct {
	State, Reason, Text string
}

// conditionOf reads a condition. One written for an older generation of the spec is "waiting":
// the operator has not looked at the admin's last change yet. (Each condition carries the
// generation it was written for; status.observedGeneration only moves on success.)
func conditionOf(conds []metav1.Condition, typ string, generation int64) condition {
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return condition{State: "waiting", Text: "The operator has not checked this yet."}
	case c.ObservedGeneration != generation || c.Status == metav1.ConditionUnknown || v1alpha1.IsTransientReason(c.Reason):
		return condition{State: "waiting", Reason: c.Reason, Text: c.Message}
	case c.Status == metav1.ConditionTrue:
		return condition{State: "ready", Reason: c.Reason, Text: c.Message}
	}
	return condition{State: "failed", Reason: c.Reason, Text: c.Message}
}

// mayGet asks Kubernetes RBAC whether who may get a resource of the API group in a namespace (all
// of the kind there when name is "", in every namespace when namespace is "" too).
func (s *Server) mayGet(ctx context.Context, who service.Identity, resource, namespace, name string) bool {
	ok, err := s.Service.Can(ctx, who, "get", "enterprise.z8z8.io", resource, namespace, name)
	if err != nil {
		s.Log.Error("SubjectAccessReview failed", "error", err)
	}
	return ok && err == nil
}

// mayAdminister: an organization's admin may read its EnterpriseIdentity and, once there is one,
// its ScimIntegration (the namespace's admin and view roles grant both). What they may change,
// RBAC decides when they try.
func (s *Server) mayAdminister(ctx context.Context, who service.Identity, o *organization) bool {
	if !s.mayGet(ctx, who, "enterpriseidentities", o.Identity.Namespace, o.Identity.Name) {
		return false
	}
	return o.Scim == nil || s.mayGet(ctx, who, "scimintegrations", o.Scim.Namespace, o.Scim.Name)
}

// served is the organization as the data plane serves it, for reading (verb get) or acting
// (update) through the admin API. It must be served from this very ScimIntegration: another
// EnterpriseIdentity claiming the same organization name never reaches the claimant's data.
func (s *Server) served(r *http.Request, v *view, verb string) (*tenant.Organization, error) {
	org, ok := s.Service.Served(v.Org.Name())
	if !ok || v.Org.Scim == nil || org.Integration != client.ObjectKeyFromObject(v.Org.Scim) {
		return nil, &service.Error{Status: http.StatusNotFound,
			Message: "The SCIM endpoint does not serve this organization (yet); see where it stands under SCIM provisioning."}
	}
	return s.Service.Authorize(r.Context(), s.who(r), org.Name, verb)
}

// load reads an organization by its EnterpriseIdentity's namespace and name. An identity the
// cache does not have yet (the wizard created it a moment ago) is read from the API server as
// the admin, so the page after "create" finds it.
func (s *Server) load(ctx context.Context, who service.Identity, namespace, name string) (*organization, error) {
	key := types.NamespacedName{Namespace: namespace, Name: name}
	eid := &v1alpha1.EnterpriseIdentity{}
	err := s.Client.Get(ctx, key, eid)
	if apierrors.IsNotFound(err) {
		as, ierr := s.Impersonate(who)
		if ierr != nil {
			return nil, ierr
		}
		err = as.Get(ctx, key, eid)
	}
	if err != nil {
		return nil, err
	}
	o := &organization{Identity: eid}
	// The integration the operator serves for the identity (claims decides, as everywhere).
	if o.Scim, err = claims.ChosenIntegration(ctx, s.Client, namespace, name); err != nil {
		return nil, err
	}
	return o, nil
}

// inOrganization serves a page about one organization to an admin allowed to see it. Anyone
// else gets the same "not found" as for an organization that does not exist: nothing leaks.
func (s *Server) inOrganization(next pageHandler) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, v *view) {
		c, cancel := ctx(r)
		defer cancel()
		o, err := s.load(c, s.who(r), r.PathValue("namespace"), r.PathValue("name"))
		if err != nil || !s.mayAdminister(c, s.who(r), o) {
			s.fail(w, r, http.StatusNotFound, "No such organization, or you do not administer it. Ask a platform admin for access to its namespace.")
			return
		}
		v.Org = o
		next(w, r, v)
	})
}

// organizationsPage is the organizations page's data: one page of the organizations the admin
// administers, in name order.
type organizationsPage struct {
	Rows []*organization
	// Page counts from 1; Total is how many organizations the admin administers (on all pages).
	Page, Pages, Total int
	// Unchecked names the namespaces where some organizations were not checked (organization_access.go).
	Unchecked []string
}

// PreviousURL and NextURL are the neighbouring pages, or "".
func (p *organizationsPage) PreviousURL() string { return p.pageURL(p.Page - 1) }
func (p *organizationsPage) NextURL() string     { return p.pageURL(p.Page + 1) }

func (p *organizationsPage) pageURL(n int) string {
	if n < 1 || n > p.Pages {
		return ""
	}
	return Path + "?page=" + strconv.Itoa(n)
}

// organizationsPerPage bounds the rows of the organizations page, and so its live status reads.
const organizationsPerPage = 50

// organizations lists the organizations the admin administers and where each stands.
func (s *Server) organizations(w http.ResponseWriter, r *http.Request, v *view) {
	c, cancel := ctx(r)
	defer cancel()
	list := &v1alpha1.EnterpriseIdentityList{}
	if err := s.Client.List(c, list); err != nil {
		s.failWith(w, r, err)
		return
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		if items[i].Namespace != items[j].Namespace {
			return items[i].Namespace < items[j].Namespace
		}
		return items[i].Name < items[j].Name
	})
	who := s.who(r)
	viewer := accessKey(who, nil)
	if started, own := s.access.begin(viewer); !started {
		w.Header().Set("Retry-After", "1")
		if own {
			s.fail(w, r, http.StatusTooManyRequests, "Your previous view of this page is still being prepared; reload it in a moment.")
		} else {
			s.fail(w, r, http.StatusTooManyRequests, "Many views of this page are being prepared just now; reload it in a moment.")
		}
		return
	}
	defer s.access.end(viewer)
	access := s.newAccessChecker(c, who, items)
	var checkable []int
	for i := range items {
		if access.reserve(&items[i]) {
			checkable = append(checkable, i)
		}
	}
	// Checking an organization may cost SubjectAccessReviews: check them side by side, a
	// bounded number at a time.
	found := make([]*organization, len(checkable))
	failed := make([]bool, len(checkable))
	eachBounded(s, len(checkable), func(k int) {
		i := checkable[k]
		found[k], failed[k] = s.visible(c, access, items[i].Namespace, items[i].Name)
	}, func(k int) { failed[k] = true })
	page := &organizationsPage{Unchecked: access.uncheckedNamespaces()}
	for k, o := range found {
		if failed[k] {
			v.Error = "Some organizations could not be read just now and are missing below; reload the page."
		}
		if o != nil {
			page.Rows = append(page.Rows, o)
		}
	}
	sort.Slice(page.Rows, func(i, j int) bool { // by name; two identities may claim one name
		a, b := page.Rows[i], page.Rows[j]
		if a.Name() != b.Name() {
			return a.Name() < b.Name()
		}
		if a.Identity.Namespace != b.Identity.Namespace {
			return a.Identity.Namespace < b.Identity.Namespace
		}
		return a.Identity.Name < b.Identity.Name
	})
	page.Total = len(page.Rows)
	page.Pages = max(1, (page.Total+organizationsPerPage-1)/organizationsPerPage)
	page.Page = 1
	if n, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && n >= 1 {
		page.Page = min(n, page.Pages)
	}
	from := (page.Page - 1) * organizationsPerPage
	page.Rows = page.Rows[from:min(from+organizationsPerPage, page.Total)]
	// Live status only for the rows shown: each is a read of the store.
	eachBounded(s, len(page.Rows), func(k int) { s.readLive(r.WithContext(c), page.Rows[k]) }, func(int) {})
	v.Title, v.Data = "Organizations", page
	s.render(w, http.StatusOK, "organizations", v)
}

// organizationChecks bounds how many organizations the list page checks at once.
const organizationChecks = 8

// eachBounded runs do(0..n-1), organizationChecks at a time; panicked(i) marks a panic of do(i)
// (net/http recovers only the handler's own goroutine).
func eachBounded(s *Server, n int, do func(int), panicked func(int)) {
	var wg sync.WaitGroup
	limit := make(chan struct{}, organizationChecks)
	for i := range n {
		wg.Add(1)
		limit <- struct{}{}
		go func() {
			defer func() {
				if p := recover(); p != nil {
					s.Log.Error("Checking an organization panicked", "panic", p)
					panicked(i)
				}
				<-limit
				wg.Done()
			}()
			do(i)
		}()
	}
	wg.Wait()
}

// visible loads an organization when who administers it; failed says it could not be read (an
// organization deleted meanwhile is simply absent).
func (s *Server) visible(ctx context.Context, access *accessChecker, namespace, name string) (o *organization, failed bool) {
	o, err := s.load(ctx, access.who, namespace, name)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		s.Log.Error("Reading an organization for the wizard", "namespace", namespace, "name", name, "error", err)
		return nil, true
	}
	if !access.mayAdminister(ctx, o) {
		return nil, false
	}
	return o, false
}

// readLive adds the organization's live status when the data plane serves it to the admin.
func (s *Server) readLive(r *http.Request, o *organization) {
	if o.Serving() {
		if org, err := s.served(r, &view{Org: o}, "get"); err == nil {
			o.Live, _ = s.Service.Status(r.Context(), org)
		}
	}
}

// members summarises member counts for the organizations page.
func membersSummary(o *organization) string {
	var counts map[string]int64
	switch {
	case o.Live != nil:
		counts = o.Live.Members
	case o.Scim != nil && o.Scim.Status.Provisioning != nil:
		counts = o.Scim.Status.Provisioning.Members
	}
	var parts []string
	for _, state := range []string{"Active", "PendingReview", "Suspended", "Deactivated"} {
		if n := counts[state]; n > 0 {
			parts = append(parts, stateLabel(state)+": "+itoa(n))
		}
	}
	if len(parts) == 0 {
		return "none yet"
	}
	return strings.Join(parts, ", ")
}

// LastContact is when the identity provider last called, or "".
func (o *organization) LastContact() string {
	switch {
	case o.Live != nil && o.Live.LastRequestAt != nil:
		return formatTime(*o.Live.LastRequestAt)
	case o.Scim != nil && o.Scim.Status.Provisioning != nil && o.Scim.Status.Provisioning.LastRequestAt != nil:
		return formatTime(o.Scim.Status.Provisioning.LastRequestAt.Time)
	}
	return ""
}
