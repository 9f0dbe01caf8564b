package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// organizationSlug is what EnterpriseIdentity.spec.organization accepts: a DNS label.
var organizationSlug = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// clientSecretKey is the key of the OIDC client secret in the Secret the wizard writes.
const clientSecretKey = "client-secret"

// ssoForm is the SSO step's form: what the admin entered (never the client secret back).
type ssoForm struct {
	New                             bool
	Namespace, Name, Organization   string
	DisplayName, Domains            string
	Protocol                        string
	IssuerURL, ClientID             string
	HasClientSecret                 bool
	MetadataURL, Metadata, EntityID string
	Problems                        []string
}

func formFromIdentity(eid *v1alpha1.EnterpriseIdentity) *ssoForm {
	f := &ssoForm{Namespace: eid.Namespace, Name: eid.Name, Organization: eid.Spec.Organization,
		DisplayName: eid.Spec.DisplayName, Domains: strings.Join(eid.Spec.Domains, ", "), Protocol: "oidc"}
	if o := eid.Spec.SSO.OIDC; o != nil {
		f.IssuerURL, f.ClientID, f.HasClientSecret = o.IssuerURL, o.ClientID, o.ClientSecretRef.Name != ""
	}
	if sm := eid.Spec.SSO.SAML; sm != nil {
		f.Protocol, f.MetadataURL, f.Metadata, f.EntityID = "saml", sm.MetadataURL, sm.Metadata, sm.EntityID
	}
	return f
}

func formFromRequest(r *http.Request, isNew bool) *ssoForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return &ssoForm{New: isNew, Namespace: v("namespace"), Name: v("organization"), Organization: v("organization"),
		DisplayName: v("displayName"), Domains: v("domains"), Protocol: v("protocol"),
		IssuerURL: v("issuerURL"), ClientID: v("clientID"),
		MetadataURL: v("metadataURL"), Metadata: strings.TrimSpace(r.PostFormValue("metadata")), EntityID: v("entityID")}
}

// newOrganization shows the SSO step for an organization that does not exist yet.
func (s *Server) newOrganization(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Step, v.Data = "Set up a new organization", "sso", &ssoForm{New: true, Protocol: "oidc", Namespace: r.URL.Query().Get("namespace")}
	s.render(w, http.StatusOK, "sso", v)
}

func (s *Server) createOrganization(w http.ResponseWriter, r *http.Request, v *view) {
	f := formFromRequest(r, true)
	eid := &v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: f.Namespace, Name: f.Name}}
	s.writeSSO(w, r, v, f, eid, true)
}

func (s *Server) ssoPage(w http.ResponseWriter, r *http.Request, v *view) {
	v.Title, v.Step, v.Data = "Single sign-on", "sso", formFromIdentity(v.Org.Identity)
	v.Notice = s.managedNotice(r, v.Org.Identity)
	if r.URL.Query().Get("saved") != "" {
		v.Notice = "Saved. The operator is validating your identity provider; results appear below as they arrive."
	}
	s.render(w, http.StatusOK, "sso", v)
}

func (s *Server) saveSSO(w http.ResponseWriter, r *http.Request, v *view) {
	f := formFromRequest(r, false)
	f.Namespace, f.Name, f.Organization = v.Org.Identity.Namespace, v.Org.Identity.Name, v.Org.Identity.Spec.Organization
	s.writeSSO(w, r, v, f, v.Org.Identity.DeepCopy(), false)
}

// writeSSO writes the client secret (if one was entered) and the EnterpriseIdentity as the admin.
func (s *Server) writeSSO(w http.ResponseWriter, r *http.Request, v *view, f *ssoForm, eid *v1alpha1.EnterpriseIdentity, create bool) {
	v.Title, v.Step, v.Data = "Single sign-on", "sso", f
	if !create {
		f.HasClientSecret = eid.Spec.SSO.OIDC != nil && eid.Spec.SSO.OIDC.ClientSecretRef.Name != ""
	}
	secret := r.PostFormValue("clientSecret")
	f.Problems = f.validate(secret != "", create)
	if len(f.Problems) > 0 {
		s.render(w, http.StatusUnprocessableEntity, "sso", v)
		return
	}
	c, cancel := ctx(r)
	defer cancel()
	as, ok := s.asAdmin(w, r)
	if !ok {
		return
	}
	var err error
	eid.Spec.Organization = f.Organization
	eid.Spec.DisplayName = f.DisplayName
	eid.Spec.Domains = splitList(f.Domains)
	oldOIDC := eid.Spec.SSO.OIDC
	eid.Spec.SSO = v1alpha1.SSOSpec{}
	secretName := ""
	if f.Protocol == "saml" {
		eid.Spec.SSO.SAML = &v1alpha1.SAMLSpec{MetadataURL: f.MetadataURL, Metadata: f.Metadata, EntityID: f.EntityID}
	} else {
		ref := corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: eid.Name + "-oidc-client"}, Key: clientSecretKey}
		if oldOIDC != nil && oldOIDC.ClientSecretRef.Name != "" {
			ref = oldOIDC.ClientSecretRef // keep the Secret already configured
		}
		eid.Spec.SSO.OIDC = &v1alpha1.OIDCSpec{IssuerURL: f.IssuerURL, ClientID: f.ClientID, ClientSecretRef: ref}
		if secret != "" {
			secretName = ref.Name
			// Refuse before writing anything when the Secret is not the wizard's to change; then
			// write it before the EnterpriseIdentity, so the operator's first check finds it.
			err := checkClientSecret(c, as, eid, secretName)
			if err == nil {
				err = writeClientSecret(c, as, eid, ref, secret)
			}
			if err != nil {
				s.formError(w, r, v, f, err, "Secret", secretName)
				return
			}
		}
	}
	if create {
		err = as.Create(c, eid, client.FieldOwner(service.FieldManager))
	} else {
		err = applyAsAdmin(c, as, eid, as.Scheme(), ssoFields(eid))
	}
	if err != nil {
		if create && secretName != "" {
			// Best effort: a Secret left behind is the wizard's and unowned, so a retry reuses it.
			if derr := as.Delete(c, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: eid.Namespace, Name: secretName}}); derr != nil {
				s.Log.Info("Could not remove the client Secret of an organization that was not created", "secret", secretName, "error", derr)
			}
		}
		s.formError(w, r, v, f, err, "EnterpriseIdentity", eid.Name)
		return
	}
	if create && secretName != "" {
		// Owned by the EnterpriseIdentity from now on, so it goes when the organization goes. Best
		// effort: the organization exists either way, and the next write adopts the Secret.
		if err := adoptClientSecret(c, as, eid, secretName); err != nil {
			s.Log.Info("Could not make the organization own its client Secret yet", "secret", secretName, "error", err)
		}
	}
	seeOther(w, r, Path+"/"+eid.Namespace+"/"+eid.Name+"/sso?saved=1")
}

func (f *ssoForm) validate(secretEntered, create bool) []string {
	var p []string
	if create {
		if f.Namespace == "" {
			p = append(p, "Namespace: enter the Kubernetes namespace the organization lives in.")
		}
		if !organizationSlug.MatchString(f.Organization) {
			p = append(p, "Organization: enter a short name of at most 63 lowercase letters, digits and dashes, "+
				"starting and ending with a letter or digit, such as acme.")
		}
	}
	switch f.Protocol {
	case "oidc":
		if f.IssuerURL == "" || f.ClientID == "" {
			p = append(p, "OIDC: enter the issuer URL and the client ID from your identity provider.")
		}
		if !secretEntered && !f.HasClientSecret {
			p = append(p, "OIDC: enter the client secret; it is stored in a Kubernetes Secret, never in the resource.")
		}
	case "saml":
		if (f.MetadataURL == "") == (f.Metadata == "") {
			p = append(p, "SAML: enter either the metadata URL or the metadata XML, not both.")
		}
	default:
		p = append(p, "Choose OIDC or SAML.")
	}
	return p
}

// foreignSecret is a Secret the wizard did not write for this organization: it is left alone.
type foreignSecret struct{ name string }

func (e foreignSecret) Error() string {
	return "Secret " + e.name + " holds the client secret but was not written by this wizard for this organization; " +
		"change the secret where that Secret is managed (for example in Git), or reference another Secret in the EnterpriseIdentity."
}

// ownedClientSecret says the wizard wrote this Secret for this EnterpriseIdentity: it carries the
// wizard's label and is owned by it, or is the wizard's unowned Secret of that name (written
// before its organization was created, or left by an attempt that failed half-way), which the
// next write adopts.
func ownedClientSecret(sec *corev1.Secret, eid *v1alpha1.EnterpriseIdentity) bool {
	if sec.Labels[managedByLabel] != managedByWizard {
		return false
	}
	if len(sec.OwnerReferences) == 0 {
		return sec.Name == eid.Name+"-oidc-client"
	}
	for _, ref := range sec.OwnerReferences {
		if ref.UID == eid.UID && eid.UID != "" {
			return true
		}
	}
	return false
}

// checkClientSecret refuses a Secret that exists and is not the wizard's for this organization.
func checkClientSecret(c context.Context, as client.Client, eid *v1alpha1.EnterpriseIdentity, name string) error {
	sec := &corev1.Secret{}
	err := as.Get(c, client.ObjectKey{Namespace: eid.Namespace, Name: name}, sec)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return err
	case !ownedClientSecret(sec, eid):
		return foreignSecret{name: name}
	}
	return nil
}

const (
	managedByLabel  = "app.kubernetes.io/managed-by"
	managedByWizard = "enterprise-identity-setup-wizard"
)

func ownerOf(eid *v1alpha1.EnterpriseIdentity) []metav1.OwnerReference {
	return []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "EnterpriseIdentity", Name: eid.Name, UID: eid.UID}}
}

// adoptClientSecret makes the EnterpriseIdentity just created the owner of its client Secret.
func adoptClientSecret(c context.Context, as client.Client, eid *v1alpha1.EnterpriseIdentity, name string) error {
	sec := &corev1.Secret{}
	if err := as.Get(c, client.ObjectKey{Namespace: eid.Namespace, Name: name}, sec); err != nil {
		return err
	}
	sec.OwnerReferences = ownerOf(eid)
	return as.Update(c, sec, client.FieldOwner(service.FieldManager))
}

// writeClientSecret creates (owned by the EnterpriseIdentity) or updates the Secret holding the
// OIDC client secret, as the admin; a Secret the wizard did not write is never changed.
func writeClientSecret(c context.Context, as client.Client, eid *v1alpha1.EnterpriseIdentity, ref corev1.SecretKeySelector, value string) error {
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: eid.Namespace, Name: ref.Name,
		Labels: map[string]string{managedByLabel: managedByWizard}},
		Type: corev1.SecretTypeOpaque, Data: map[string][]byte{ref.Key: []byte(value)}}
	if eid.UID != "" {
		sec.OwnerReferences = ownerOf(eid)
	}
	err := as.Create(c, sec, client.FieldOwner(service.FieldManager))
	if !apierrors.IsAlreadyExists(err) {
		return err
	}
	existing := &corev1.Secret{}
	if err := as.Get(c, client.ObjectKeyFromObject(sec), existing); err != nil {
		return err
	}
	if !ownedClientSecret(existing, eid) {
		return foreignSecret{name: ref.Name}
	}
	if existing.Data == nil {
		existing.Data = map[string][]byte{}
	}
	existing.Data[ref.Key] = []byte(value)
	if len(existing.OwnerReferences) == 0 && eid.UID != "" {
		existing.OwnerReferences = ownerOf(eid)
	}
	return as.Update(c, existing, client.FieldOwner(service.FieldManager))
}

// formError shows the form again with the Kubernetes API's refusal in words.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, v *view, f interface{ addProblem(string) }, err error, kind, name string) {
	f.addProblem(explain(err, s.who(r), kind, name, namespaceOf(v, r)))
	status := http.StatusUnprocessableEntity
	if apierrors.IsForbidden(err) {
		status = http.StatusForbidden
	}
	s.render(w, status, v.Step, v) // each step has a page of its name
}

func (f *ssoForm) addProblem(p string) { f.Problems = append(f.Problems, p) }

func namespaceOf(v *view, r *http.Request) string {
	if v.Org != nil {
		return v.Org.Identity.Namespace
	}
	return strings.TrimSpace(r.PostFormValue("namespace"))
}

// explain turns a Kubernetes API error into a sentence a person can act on.
func explain(err error, who service.Identity, kind, name, namespace string) string {
	var status apierrors.APIStatus
	var foreign foreignSecret
	var elsewhere *managedElsewhere
	switch {
	case errors.As(err, &foreign):
		return foreign.Error()
	case errors.As(err, &elsewhere):
		return elsewhere.Error()
	case apierrors.IsForbidden(err):
		return fmt.Sprintf("Kubernetes RBAC does not let %s write %s %s in namespace %s. Ask a platform admin for the admin role in that namespace.",
			who.User, kind, name, namespace)
	case apierrors.IsConflict(err):
		return fmt.Sprintf("%s %s changed while you were editing; reload the page and apply your change again.", kind, name)
	case apierrors.IsAlreadyExists(err):
		return fmt.Sprintf("%s %s already exists in namespace %s; open it from the organizations list instead.", kind, name, namespace)
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("Namespace %s does not exist, or %s %s was deleted meanwhile; check the namespace name.", namespace, kind, name)
	case apierrors.IsInvalid(err) && errors.As(err, &status):
		var parts []string
		if d := status.Status().Details; d != nil {
			for _, c := range d.Causes {
				parts = append(parts, strings.TrimPrefix(c.Field, "spec.")+": "+c.Message)
			}
		}
		if len(parts) == 0 {
			return status.Status().Message
		}
		return "The Kubernetes API refused the values: " + strings.Join(parts, "; ")
	}
	return "The Kubernetes API refused the change: " + err.Error()
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
}

// ssoFields are the EnterpriseIdentity fields the SSO form manages, as an apply configuration.
func ssoFields(eid *v1alpha1.EnterpriseIdentity) map[string]any {
	sso := map[string]any{}
	if o := eid.Spec.SSO.OIDC; o != nil {
		sso["oidc"] = map[string]any{"issuerURL": o.IssuerURL, "clientID": o.ClientID,
			"clientSecretRef": map[string]any{"name": o.ClientSecretRef.Name, "key": o.ClientSecretRef.Key}}
	}
	if m := eid.Spec.SSO.SAML; m != nil {
		saml := map[string]any{}
		setIf(saml, "metadataURL", m.MetadataURL, m.MetadataURL != "")
		setIf(saml, "metadata", m.Metadata, m.Metadata != "")
		setIf(saml, "entityID", m.EntityID, m.EntityID != "")
		sso["saml"] = saml
	}
	spec := map[string]any{"organization": eid.Spec.Organization, "sso": sso}
	setIf(spec, "displayName", eid.Spec.DisplayName, eid.Spec.DisplayName != "")
	if len(eid.Spec.Domains) > 0 {
		domains := make([]any, 0, len(eid.Spec.Domains))
		for _, d := range eid.Spec.Domains {
			domains = append(domains, d)
		}
		spec["domains"] = domains
	}
	return map[string]any{"spec": spec}
}
