package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"

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
	digest := metadataDigest(o)
	if kept := o.GetAnnotations()[annotationMetadataDigest]; digest == "" && len(kept) == 32 {
		digest = kept // trimmed already (the cache may transform an object twice)
	}
	if digest != "" {
		if annotations == nil {
			annotations = map[string]string{}
		}
		annotations[annotationMetadataDigest] = digest
	}
	o.SetFinalizers(finalizers)
	o.SetAnnotations(annotations)
	o.SetLabels(nil)
	o.SetOwnerReferences(nil)
	o.SetManagedFields(nil)
	o.SetGenerateName("")
	return obj, nil
}

// annotationMetadataDigest, on a cached copy only, is a digest of the annotations and labels
// the cache leaves out. A change to them still changes the cached object, so it still wakes the
// object's controller (controllers.notStatusOnly): an annotation written to have an object
// reconciled now (kubectl annotate, a GitOps tool's refresh) works as before, at 32 bytes.
const annotationMetadataDigest = "enterprise.z8z8.io/cached-metadata-digest"

// metadataDigest digests o's annotations and labels other than the ones kept; "" when none.
func metadataDigest(o metav1.Object) string {
	h := sha256.New()
	n := 0
	for _, m := range []map[string]string{o.GetAnnotations(), o.GetLabels()} {
		keys := make([]string, 0, len(m))
		for k := range m {
			if k != v1alpha1.AnnotationRotateToken && k != annotationMetadataDigest { // idempotent
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			_, _ = fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(m[k]), m[k])
		}
		_, _ = h.Write([]byte{0})
		n += len(keys)
	}
	if n == 0 {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
