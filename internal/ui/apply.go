package ui

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/internal/service"
)

// ownManagers are field managers whose fields the wizard may take over: its own (an object it
// created is recorded under an Update entry of the same name) and the manager binary's default
// name, which wizard writes used before they had a field manager.
var ownManagers = []string{service.FieldManager, "manager"}

// applyAsAdmin writes the fields a wizard form manages with server-side apply, as the admin,
// under the wizard's field manager. Where a GitOps tool or kubectl owns a field with another
// value, nothing is written and the admin is told where to make the change (managedElsewhere):
// changing it here would be undone by the next sync, or make the sync fail.
func applyAsAdmin(c context.Context, as client.Client, obj client.Object, scheme *runtime.Scheme, fields map[string]any) error {
	gvk, err := apiutilGVK(obj, scheme)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: fields}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(obj.GetNamespace())
	u.SetName(obj.GetName())
	err = as.Apply(c, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(service.FieldManager))
	conflicts := fieldConflicts(err)
	if len(conflicts) == 0 {
		return err
	}
	if conflicts.onlyOwn() {
		return as.Apply(c, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(service.FieldManager), client.ForceOwnership)
	}
	return &managedElsewhere{Kind: gvk.Kind, Name: obj.GetName(), Conflicts: conflicts, applied: u}
}

func apiutilGVK(obj client.Object, scheme *runtime.Scheme) (schema.GroupVersionKind, error) {
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil || len(gvks) == 0 {
		return schema.GroupVersionKind{}, fmt.Errorf("no kind registered for %T: %w", obj, err)
	}
	return gvks[0], nil
}

// fieldConflict is one field another manager holds.
type fieldConflict struct {
	Manager string
	// Field is the path as the API server reports it, for example .spec.enabled.
	Field string
}

type conflictList []fieldConflict

func (l conflictList) onlyOwn() bool {
	for _, c := range l {
		if !slices.Contains(ownManagers, c.Manager) {
			return false
		}
	}
	return true
}

var conflictManager = regexp.MustCompile(`conflict with "([^"]+)"`)

// fieldConflicts reads the field manager conflicts of a server-side apply error.
func fieldConflicts(err error) conflictList {
	var status apierrors.APIStatus
	if err == nil || !apierrors.IsConflict(err) || !errors.As(err, &status) || status.Status().Details == nil {
		return nil
	}
	var out conflictList
	for _, cause := range status.Status().Details.Causes {
		if cause.Type != metav1.CauseTypeFieldManagerConflict {
			continue
		}
		manager := "another field manager"
		if m := conflictManager.FindStringSubmatch(cause.Message); m != nil {
			manager = m[1]
		}
		out = append(out, fieldConflict{Manager: manager, Field: cause.Field})
	}
	return out
}

// managedElsewhere says that fields the admin changed belong to another manager (a GitOps tool,
// kubectl), and what to commit there instead.
type managedElsewhere struct {
	Kind, Name string
	Conflicts  conflictList
	applied    *unstructured.Unstructured
}

func (e *managedElsewhere) Error() string {
	var managers []string
	changes := make([]string, 0, len(e.Conflicts))
	for _, c := range e.Conflicts {
		if !slices.Contains(managers, c.Manager) {
			managers = append(managers, c.Manager)
		}
		changes = append(changes, fmt.Sprintf("%s: %s", strings.TrimPrefix(c.Field, "."), e.valueAt(c.Field)))
	}
	return fmt.Sprintf("Nothing was saved: %s %s is managed by %s, which would undo this change. Make it there instead (%s).",
		e.Kind, e.Name, strings.Join(managers, ", "), strings.Join(changes, "; "))
}

// valueAt is the value the form asked for at a reported path, as YAML-ish text.
func (e *managedElsewhere) valueAt(field string) string {
	path := strings.Split(strings.TrimPrefix(field, "."), ".")
	v, found, err := unstructured.NestedFieldNoCopy(e.applied.Object, path...)
	if err != nil || !found {
		return "(remove it)"
	}
	switch v.(type) {
	case []any, map[string]any:
		// A list or object (group role mappings) as JSON, which is also YAML to commit as is.
		if b, err := json.Marshal(v); err == nil {
			return string(b)
		}
	}
	return fmt.Sprint(v)
}

// specManagers names the field managers other than the wizard's that own spec fields of obj (a
// GitOps tool, Helm, kubectl), so a page can say up front where those settings are changed.
func specManagers(obj client.Object) []string {
	var out []string
	for _, m := range obj.GetManagedFields() {
		if slices.Contains(ownManagers, m.Manager) || m.Subresource != "" || m.FieldsV1 == nil || slices.Contains(out, m.Manager) {
			continue
		}
		if strings.Contains(m.FieldsV1.GetRawString(), `"f:spec"`) {
			out = append(out, m.Manager)
		}
	}
	return out
}

// managedNotice tells the admin which settings another manager owns, or "". The manager's cache
// strips managedFields, so the object is read afresh, as the admin.
func (s *Server) managedNotice(r *http.Request, obj client.Object) string {
	as, err := s.Impersonate(s.who(r))
	if err != nil {
		return ""
	}
	fresh := obj.DeepCopyObject().(client.Object)
	if err := as.Get(r.Context(), client.ObjectKeyFromObject(obj), fresh); err != nil {
		return ""
	}
	managers := specManagers(fresh)
	if len(managers) == 0 {
		return ""
	}
	return fmt.Sprintf("This organization is also managed by %s: settings it sets are changed there, not here; the others are yours to change.",
		strings.Join(managers, ", "))
}
