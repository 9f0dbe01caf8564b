package secrets

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// The custom resources namespace admins write (EnterpriseIdentity, ScimIntegration,
// EventSubscription, RoleTemplate) are cached on every replica. Their specs are bounded by the
// CRDs (api/v1alpha1), but their metadata is the API server's to bound: 256 KiB of annotations,
// thousands of finalizers, labels and owner references, up to 1.5 MiB an object. The cache keeps
// of it what the operator reads. The operator never writes these objects from the cached copy
// with an update: their status through the status subresource, which leaves metadata alone, the
// rotate-token annotation with server-side apply, and its finalizers with a patch built from the
// object as the API server has it (controllers/finalizers.go). OrganizationClaims are not
// trimmed: only cluster administrators and the operator write them, and the operator updates
// them whole.

// The operator's finalizers on its kinds.
var cachedFinalizers = []string{
	v1alpha1.FinalizerOrganizationClaim, v1alpha1.FinalizerOrganizationData,
	v1alpha1.FinalizerSCIMData, v1alpha1.FinalizerEventDelivery,
}

// trimResource keeps of one of the operator's custom resources its spec and status, and of its
// metadata its identity, the operator's finalizers and the rotate-token annotation (as the mark
// every reader takes of it, token.RotationRequestMark: a long request is kept as its hash, at
// most 64 characters). Labels, other annotations (kubectl's last-applied copy of the object
// among them), other finalizers, owner references and managed fields are left out.
func trimResource(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil // a tombstone of a deleted object
	}
	var finalizers []string
	for _, f := range o.GetFinalizers() {
		if slices.Contains(cachedFinalizers, f) && !slices.Contains(finalizers, f) {
			finalizers = append(finalizers, f)
		}
	}
	var annotations map[string]string
	if request, ok := o.GetAnnotations()[v1alpha1.AnnotationRotateToken]; ok {
		annotations = map[string]string{v1alpha1.AnnotationRotateToken: token.RotationRequestMark(request)}
	}
	o.SetFinalizers(finalizers)
	o.SetAnnotations(annotations)
	o.SetLabels(nil)
	o.SetOwnerReferences(nil)
	o.SetManagedFields(nil)
	o.SetGenerateName("")
	return obj, nil
}
