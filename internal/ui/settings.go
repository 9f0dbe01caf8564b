package ui

import "net/http"

// The product guide opens the wizard from Settings → Enterprise → Enterprise Identity Setup. These
// are those two menus: pages without data, so nobody needs to sign in to see them, and the
// breadcrumbs of every wizard page lead back through them.
const (
	settingsPath   = "/settings"
	enterprisePath = "/settings/enterprise"
)

// menuEntry is a link of a settings menu.
type menuEntry struct{ URL, Label, About string }

func (s *Server) settingsRoutes(mux *http.ServeMux) {
	menus := map[string]struct {
		title   string
		entries []menuEntry
	}{
		settingsPath: {"Settings", []menuEntry{{enterprisePath, "Enterprise", "Single sign-on and SCIM provisioning of your organizations."}}},
		enterprisePath: {"Enterprise", []menuEntry{{Path, "Enterprise Identity Setup",
			"Set up an organization's single sign-on, its SCIM provisioning from Microsoft Entra ID or Okta, and follow its members."}}},
	}
	for path, m := range menus {
		page := s.public(func(w http.ResponseWriter, _ *http.Request) {
			s.render(w, http.StatusOK, "settings", &view{Title: m.title, Data: m.entries})
		})
		mux.Handle("GET "+path, page)
		mux.Handle("GET "+path+"/{$}", page)
	}
}
