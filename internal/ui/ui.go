// Package ui is the Enterprise Identity Setup wizard: server-rendered pages (html/template,
// embedded in the binary) over the same authentication, authorization and data as the admin API.
// This first page lists the organizations the signed-in admin administers and where each stands.
package ui

import (
	"context"
	"embed"
	"html/template"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/adminapi"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

//go:embed templates/*.html
var templates embed.FS

//go:embed wizard.css
var stylesheet []byte

var pages = template.Must(template.ParseFS(templates, "templates/*.html"))

// Path is where the wizard lives, as the product documentation says.
const Path = "/settings/enterprise/identity-setup"

// Server serves the wizard.
type Server struct {
	// Admin authenticates and authorizes like the admin API.
	Admin *adminapi.Server
	// Client reads EnterpriseIdentities and ScimIntegrations for their status.
	Client client.Client
	Store  store.Store
	Log    *slog.Logger
}

// Routes registers the wizard's pages.
func (s *Server) Routes(mux *http.ServeMux) {
	mux.Handle("GET "+Path, secured(http.HandlerFunc(s.organizations)))
	mux.Handle("GET /settings/enterprise/static/wizard.css", secured(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = w.Write(stylesheet)
	})))
}

// contentSecurityPolicy allows only the wizard's own scripts and styles, no framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

// page is what a template renders.
type page struct {
	Title         string
	User          string
	Organizations []organizationRow
}

// secured sets the headers every page carries: a strict Content Security Policy (no inline
// script or style), no framing (clickjacking), no sniffing, no caching of admin data.
func secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// organizationRow is one line of the organizations page.
type organizationRow struct {
	Name, Namespace, SSO, SCIM, BaseURL, LastContact string
	Members                                          map[string]int64
}

func (s *Server) organizations(w http.ResponseWriter, r *http.Request) {
	who, ok, err := s.Admin.Authenticate(r)
	if err != nil || !ok {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, page{Title: "Sign in", User: "nobody"})
		return
	}
	rows, err := s.rows(r.Context(), who)
	if err != nil {
		s.Log.Error("Listing organizations for the wizard", "error", err)
		http.Error(w, "Could not list your organizations; try again", http.StatusInternalServerError)
		return
	}
	s.render(w, page{Title: "Organizations", User: who.User, Organizations: rows})
}

// rows lists the organizations who may administer (get on their ScimIntegration), with status.
func (s *Server) rows(ctx context.Context, who adminapi.Identity) ([]organizationRow, error) {
	list := &v1alpha1.ScimIntegrationList{}
	if err := s.Client.List(ctx, list); err != nil {
		return nil, err
	}
	var rows []organizationRow
	for i := range list.Items {
		scim := &list.Items[i]
		if scim.Status.Organization == "" {
			continue
		}
		allowed, err := s.Admin.MayAdminister(ctx, who, scim.Namespace, scim.Name, "get")
		if err != nil {
			return nil, err
		}
		if !allowed {
			continue
		}
		row := organizationRow{Name: scim.Status.Organization, Namespace: scim.Namespace, BaseURL: scim.Status.BaseURL,
			SSO: conditionText(scim.Status.Conditions, v1alpha1.ConditionSSOReady), SCIM: conditionText(scim.Status.Conditions, v1alpha1.ConditionReady)}
		if p := scim.Status.Provisioning; p != nil {
			row.Members = p.Members
			if p.LastRequestAt != nil {
				row.LastContact = p.LastRequestAt.UTC().Format(time.RFC1123)
			}
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Name < rows[j].Name })
	return rows, nil
}

// conditionText says a condition in words: "Ready" or the reason and message.
func conditionText(conds []metav1.Condition, typ string) string {
	c := meta.FindStatusCondition(conds, typ)
	switch {
	case c == nil:
		return "Not checked yet"
	case c.Status == "True":
		return "Ready"
	}
	return c.Reason + ": " + c.Message
}

func (s *Server) render(w http.ResponseWriter, data page) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pages.ExecuteTemplate(w, "layout", data); err != nil {
		s.Log.Error("Rendering the wizard", "error", err)
	}
}
