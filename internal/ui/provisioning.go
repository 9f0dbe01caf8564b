package ui

import (
	"net/http"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// provisioningForm is the SCIM step: the provisioning policy written to the ScimIntegration.
type provisioningForm struct {
	Enabled, AutoActivate bool
	OnDeactivate          string
	OnDelete              string
	DefaultRoleTemplate   string
	MaxPerHour            string
	DryRun                bool
	RoleTemplates         []roleOption
	// GroupRoles are the group → role mappings, first match first; NewGroupRole is the row that
	// adds one.
	GroupRoles   []groupRoleRow
	NewGroupRole groupRoleRow
	Problems     []string
}

type roleOption struct{ Name, Label string }

func (f *provisioningForm) addProblem(p string) { f.Problems = append(f.Problems, p) }

func (s *Server) roleOptions(r *http.Request, namespace string) []roleOption {
	list := &v1alpha1.RoleTemplateList{}
	if err := s.Client.List(r.Context(), list, client.InNamespace(namespace)); err != nil {
		s.Log.Error("Listing RoleTemplates", "error", err)
		return nil
	}
	out := make([]roleOption, 0, len(list.Items))
	for _, rt := range list.Items {
		label := rt.Name
		if rt.Spec.DisplayName != "" {
			label = rt.Spec.DisplayName + " (" + rt.Name + ")"
		}
		out = append(out, roleOption{Name: rt.Name, Label: label})
	}
	return out
}

func (s *Server) provisioningPage(w http.ResponseWriter, r *http.Request, v *view) {
	f := &provisioningForm{Enabled: true, AutoActivate: true, OnDeactivate: string(v1alpha1.DeprovisionSuspend), OnDelete: string(v1alpha1.DeprovisionDeactivate)}
	if sc := v.Org.Scim; sc != nil {
		p := sc.Spec.Provisioning
		f.Enabled = sc.IsEnabled()
		f.AutoActivate = p.AutoActivate == nil || *p.AutoActivate
		f.OnDeactivate, f.OnDelete, f.DefaultRoleTemplate = string(p.Deprovision.OnDeactivate), string(p.Deprovision.OnDelete), p.DefaultRoleTemplate
		f.DryRun = p.Mode == v1alpha1.ProvisioningDryRun
		if p.Deprovision.MaxPerHour != nil {
			f.MaxPerHour = strconv.Itoa(int(*p.Deprovision.MaxPerHour))
		}
	}
	f.RoleTemplates = s.roleOptions(r, v.Org.Identity.Namespace)
	var mappings []v1alpha1.GroupRoleMapping
	if v.Org.Scim != nil {
		mappings = v.Org.Scim.Spec.Provisioning.GroupRoles
	}
	f.GroupRoles, f.NewGroupRole = groupRoleRows(mappings, f.RoleTemplates)
	v.Title, v.Step, v.Data = "SCIM provisioning", "provisioning", f
	if v.Org.Scim != nil {
		v.Notice = s.managedNotice(r, v.Org.Scim)
	}
	if r.URL.Query().Get("saved") != "" {
		v.Notice = "Saved. The operator is issuing the token and starting the endpoint; progress appears below."
	}
	s.render(w, http.StatusOK, "provisioning", v)
}

func (s *Server) saveProvisioning(w http.ResponseWriter, r *http.Request, v *view) {
	f := &provisioningForm{
		Enabled: r.PostFormValue("enabled") == "on", AutoActivate: r.PostFormValue("autoActivate") == "on",
		OnDeactivate: r.PostFormValue("onDeactivate"), OnDelete: r.PostFormValue("onDelete"),
		DefaultRoleTemplate: r.PostFormValue("defaultRoleTemplate"), MaxPerHour: strings.TrimSpace(r.PostFormValue("maxPerHour")),
		DryRun: r.PostFormValue("dryRun") == "on", RoleTemplates: s.roleOptions(r, v.Org.Identity.Namespace),
	}
	var current []v1alpha1.GroupRoleMapping
	if v.Org.Scim != nil {
		current = v.Org.Scim.Spec.Provisioning.GroupRoles
	}
	rows, add, editedGroupRoles := postedGroupRoles(r, f.RoleTemplates)
	if !editedGroupRoles {
		rows, add = groupRoleRows(current, f.RoleTemplates)
	}
	f.GroupRoles, f.NewGroupRole = rows, add
	v.Title, v.Step, v.Data = "SCIM provisioning", "provisioning", f
	// The product rule: SCIM is enabled after SSO. An existing integration stays editable (to
	// disable it during an identity provider outage, say); the operator gates it on SSO anyway.
	if !v.Org.SSOReady() && v.Org.Scim == nil {
		v.Error = "Set up single sign-on first: SCIM provisioning is enabled only once SSO is validated."
		s.render(w, http.StatusConflict, "provisioning", v)
		return
	}
	var maxPerHour *int32
	if f.MaxPerHour != "" {
		n, err := strconv.ParseInt(f.MaxPerHour, 10, 32)
		if err != nil || n < 1 {
			f.addProblem("Mass-deprovisioning guard: enter a whole number of at least 1, or leave it empty for no limit.")
		} else {
			maxPerHour = ptr.To(int32(n))
		}
	}
	groupRoles := current
	if editedGroupRoles {
		var problems []string
		groupRoles, problems = groupRoleMappings(rows, add)
		f.Problems = append(f.Problems, problems...)
	}
	if len(f.Problems) > 0 {
		s.render(w, http.StatusUnprocessableEntity, "provisioning", v)
		return
	}
	c, cancel := ctx(r)
	defer cancel()
	as, ok := s.asAdmin(w, r)
	if !ok {
		return
	}
	var err error
	scim := &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: v.Org.Identity.Namespace, Name: v.Org.Identity.Name},
		Spec: v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: v.Org.Identity.Name}}}
	if v.Org.Scim != nil {
		scim = v.Org.Scim.DeepCopy()
	}
	scim.Spec.Enabled = ptr.To(f.Enabled)
	p := &scim.Spec.Provisioning
	p.AutoActivate = ptr.To(f.AutoActivate)
	p.Deprovision.OnDeactivate = v1alpha1.DeprovisionAction(f.OnDeactivate)
	p.Deprovision.OnDelete = v1alpha1.DeprovisionAction(f.OnDelete)
	p.Deprovision.MaxPerHour = maxPerHour
	p.DefaultRoleTemplate = f.DefaultRoleTemplate
	p.GroupRoles = groupRoles
	p.Mode = v1alpha1.ProvisioningEnforce
	if f.DryRun {
		p.Mode = v1alpha1.ProvisioningDryRun
	}
	if v.Org.Scim == nil {
		err = as.Create(c, scim, client.FieldOwner(service.FieldManager))
	} else {
		// The mappings are sent while there are any, and once more as an empty list when the
		// admin removed the last: the wizard then owns that, or hears who else owns the list.
		err = applyAsAdmin(c, as, scim, as.Scheme(), provisioningFields(scim, len(groupRoles) > 0 || len(current) > 0))
	}
	if err != nil {
		s.formError(w, r, v, f, err, "ScimIntegration", scim.Name)
		return
	}
	seeOther(w, r, v.Org.URL()+"/provisioning?saved=1")
}

// provisioningFields are the ScimIntegration fields the provisioning form manages, as an apply
// configuration: the wizard owns these and nothing else of the object. withGroupRoles sends
// spec.provisioning.groupRoles (an atomic list: whoever applies it owns all of it), empty or not.
func provisioningFields(scim *v1alpha1.ScimIntegration, withGroupRoles bool) map[string]any {
	p := scim.Spec.Provisioning
	deprovision := map[string]any{}
	setIf(deprovision, "onDeactivate", string(p.Deprovision.OnDeactivate), p.Deprovision.OnDeactivate != "")
	setIf(deprovision, "onDelete", string(p.Deprovision.OnDelete), p.Deprovision.OnDelete != "")
	if m := p.Deprovision.MaxPerHour; m != nil {
		deprovision["maxPerHour"] = int64(*m)
	}
	provisioning := map[string]any{"autoActivate": *p.AutoActivate, "mode": string(p.Mode), "deprovision": deprovision}
	setIf(provisioning, "defaultRoleTemplate", p.DefaultRoleTemplate, p.DefaultRoleTemplate != "")
	if withGroupRoles {
		mappings := make([]any, 0, len(p.GroupRoles))
		for _, m := range p.GroupRoles {
			mappings = append(mappings, map[string]any{"group": m.Group, "roleTemplate": m.RoleTemplate})
		}
		provisioning["groupRoles"] = mappings
	}
	return map[string]any{"spec": map[string]any{
		"identityRef":  map[string]any{"name": scim.Spec.IdentityRef.Name},
		"enabled":      *scim.Spec.Enabled,
		"provisioning": provisioning,
	}}
}

func setIf(m map[string]any, key string, value any, ok bool) {
	if ok {
		m[key] = value
	}
}
