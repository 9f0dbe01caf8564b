package ui

import (
	"html/template"
	"net/http"
	"path"
	"strconv"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// steps are the wizard's steps, in order.
var steps = []struct{ Key, Label string }{
	{"sso", "Single sign-on"},
	{"provisioning", "SCIM provisioning"},
	{"credentials", "Credentials"},
	{"connect", "Connect your identity provider"},
	{"status", "Status and logs"},
	{"members", "Employee management"},
}

var funcs = template.FuncMap{
	"steps":      func() any { return steps },
	"stateLabel": stateLabel,
	"itoa":       itoa,
	"time": func(t any) string {
		switch t := t.(type) {
		case time.Time:
			return formatTime(t)
		case *time.Time:
			if t != nil {
				return formatTime(*t)
			}
		case metav1.Time:
			return formatTime(t.Time)
		case *metav1.Time:
			if t != nil {
				return formatTime(t.Time)
			}
		}
		return ""
	},
	"membersSummary": membersSummary,
	"condition":      conditionOf,
	"shownURL":       outbound.Shown,
	"list":           func(items ...string) []string { return items },
	"label":          conditionLabel,
	"add":            func(a, b int) int { return a + b },
	"ms":             func(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" },
}

// parsePages parses each page with the shared layout and partials into its own template set.
func parsePages() map[string]*template.Template {
	shared := []string{"templates/layout.html", "templates/progress.html"}
	pages := map[string]*template.Template{}
	files, _ := templateFiles.ReadDir("templates")
	for _, f := range files {
		name := f.Name()[:len(f.Name())-len(path.Ext(f.Name()))]
		if name == "layout" || name == "progress" {
			continue
		}
		pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFiles, append(shared, "templates/"+f.Name())...))
	}
	pages["progress"] = template.Must(template.New("progress").Funcs(funcs).ParseFS(templateFiles, "templates/progress.html"))
	return pages
}

// progress renders the live checks of an organization (SSO, token, endpoint, policy) as an HTML
// fragment; the pages poll it while the operator works.
func (s *Server) progress(w http.ResponseWriter, _ *http.Request, v *view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := s.pages["progress"].ExecuteTemplate(w, "progress", v); err != nil {
		s.Log.Error("Rendering progress", "error", err)
	}
}

func stateLabel(state string) string {
	switch state {
	case "PendingReview":
		return "Pending review"
	case "":
		return "All states"
	}
	return state
}

// conditionLabel names a ScimIntegration condition as a step the admin waits for.
func conditionLabel(typ string) string {
	switch typ {
	case v1alpha1.ConditionTokenIssued:
		return "Token issued"
	case v1alpha1.ConditionEndpointReady:
		return "SCIM endpoint serving"
	case v1alpha1.ConditionPolicyReady:
		return "Provisioning policy valid"
	case v1alpha1.ConditionReady:
		return "SCIM provisioning ready"
	}
	return typ
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// countParam reads a count the wizard put in its own redirect (?rotated=, ?released=, …), as
// the number it is: the notice box speaks for the wizard, so a crafted link must not put words
// of its own there. ok is false for anything but a non-negative number.
func countParam(r *http.Request, name string) (n string, ok bool) {
	v, err := strconv.Atoi(r.URL.Query().Get(name))
	if err != nil || v < 0 {
		return "", false
	}
	return strconv.Itoa(v), true
}
