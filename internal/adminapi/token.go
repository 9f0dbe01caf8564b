package adminapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;patch

// revealToken returns the plaintext token once and acknowledges it, so the operator removes it
// from the Secret. The caller needs get on that Secret: revealing is reading it.
func (s *Server) revealToken(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who Identity) {
	if !org.Generated {
		writeError(w, http.StatusConflict, "This organization brings its own token (spec.token.secretRef); read it where it is managed")
		return
	}
	ok, err := s.allowedOn(r.Context(), who, &authorizationv1.ResourceAttributes{
		Namespace: org.TokenSecret.Namespace, Verb: "get", Resource: "secrets", Name: org.TokenSecret.Name,
	})
	if err != nil {
		s.fail(w, err)
		return
	}
	if !ok {
		writeError(w, http.StatusForbidden, fmt.Sprintf("%s may not read Secret %s in namespace %s", who.User, org.TokenSecret.Name, org.TokenSecret.Namespace))
		return
	}
	secret := &corev1.Secret{}
	if err := s.Client.Get(r.Context(), org.TokenSecret, secret); err != nil {
		s.fail(w, err)
		return
	}
	plaintext := string(secret.Data[v1alpha1.SecretKeyToken])
	if plaintext == "" || secret.Annotations[v1alpha1.AnnotationTokenAcknowledged] != "" {
		writeError(w, http.StatusGone, "The token was already revealed (it is shown once); rotate to issue a new one")
		return
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		v1alpha1.AnnotationTokenAcknowledged: "revealed-by:" + who.User,
	}}})
	// Optimistic lock (resourceVersion in the patch): of two concurrent reveals, one wins.
	if err := s.Client.Patch(r.Context(), secret, client.RawPatch(types.MergePatchType, withResourceVersion(patch, secret.ResourceVersion))); err != nil {
		writeError(w, http.StatusConflict, "The token is being revealed elsewhere; it is shown once")
		return
	}
	s.auditAdmin(r, org, who, "token.reveal", "Token "+token.Fingerprint(token.Hash(plaintext))+" revealed")
	writeJSON(w, http.StatusOK, map[string]any{
		"token": plaintext, "fingerprint": token.Fingerprint(token.Hash(plaintext)),
		"note": "Shown once: copy it into your identity provider now.",
	})
}

// rotateToken raises spec.token.rotation: a new token, the previous one valid for the overlap.
func (s *Server) rotateToken(w http.ResponseWriter, r *http.Request, org *tenant.Organization, who Identity) {
	scim := &v1alpha1.ScimIntegration{}
	if err := s.Client.Get(r.Context(), org.Integration, scim); err != nil {
		s.fail(w, err)
		return
	}
	next := scim.Spec.Token.Rotation + 1
	patch := []byte(fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"token":{"rotation":%d}}}`, scim.ResourceVersion, next))
	if err := s.Client.Patch(r.Context(), scim, client.RawPatch(types.MergePatchType, patch)); err != nil {
		writeError(w, http.StatusConflict, "The ScimIntegration changed meanwhile; try again")
		return
	}
	s.auditAdmin(r, org, who, "token.rotate", fmt.Sprintf("Rotation %d requested", next))
	writeJSON(w, http.StatusAccepted, map[string]any{
		"rotation": next,
		"note":     "A new token is being issued; reveal it once it is ready. The previous token stays valid for spec.token.overlap.",
	})
}

func withResourceVersion(patch []byte, rv string) []byte {
	var m map[string]any
	_ = json.Unmarshal(patch, &m)
	m["metadata"].(map[string]any)["resourceVersion"] = rv
	out, _ := json.Marshal(m)
	return out
}

// auditAdmin records an admin action (never a token).
func (s *Server) auditAdmin(r *http.Request, org *tenant.Organization, who Identity, action, detail string) {
	_ = s.Store.RecordAudit(r.Context(), []store.AuditEvent{{
		Org: org.Name, Time: time.Now().UTC(), RequestID: requestID(), Action: action, Client: "admin:" + who.User,
		Method: r.Method, Path: r.URL.Path, ResourceType: "ScimIntegration", ResourceID: org.Integration.Name,
		Status: http.StatusOK, Detail: detail,
	}})
}
