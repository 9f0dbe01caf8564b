package events

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// PreviousKeySuffix is v1alpha1.SecretKeyPreviousSuffix.
const PreviousKeySuffix = v1alpha1.SecretKeyPreviousSuffix

// ErrSigningKeyNotOwned: the Secret named as the generated signing key's is not the subscription's.
var ErrSigningKeyNotOwned = errors.New("the signing key Secret is not this subscription's")

// SigningKeys reads a subscription's signing key, and the previous one when its Secret holds it,
// current first, each checked for its form: a generated key from cached, a brought one from
// uncached (when given). BroughtKeys shares brought keys' reads between subscriptions.
func SigningKeys(ctx context.Context, cached, uncached client.Reader, sub *v1alpha1.EventSubscription) ([]string, error) {
	ref, reader := keyRefOf(sub), cached
	if sub.Spec.SigningKey != nil && uncached != nil {
		reader = uncached
	}
	secret := &corev1.Secret{}
	if err := reader.Get(ctx, types.NamespacedName{Namespace: ref.namespace, Name: ref.name}, secret); err != nil {
		return nil, err
	}
	if sub.Spec.SigningKey == nil && !metav1.IsControlledBy(secret, sub) {
		// A Secret of the generated key's name that the subscription does not own holds a key
		// someone else chose (planted before the subscription existed): never sign with it.
		return nil, ErrSigningKeyNotOwned
	}
	return keysIn(secret, ref.key)
}

// keyRef names a signing key: a Secret of the subscription's namespace and its data key.
type keyRef struct {
	namespace, name, key string
}

// keyRefOf is where a subscription's signing key is: the Secret it brings, or its generated one.
func keyRefOf(sub *v1alpha1.EventSubscription) keyRef {
	if ref := sub.Spec.SigningKey; ref != nil {
		key := ref.SecretRef.Key
		if key == "" {
			key = v1alpha1.SecretKeySigningKey
		}
		return keyRef{namespace: sub.Namespace, name: ref.SecretRef.Name, key: key}
	}
	return keyRef{namespace: sub.Namespace, name: v1alpha1.SigningKeySecretName(sub.Name), key: v1alpha1.SecretKeySigningKey}
}

// keysIn reads the key under key in secret, and the previous one beside it, each checked.
func keysIn(secret *corev1.Secret, key string) ([]string, error) {
	current := string(secret.Data[key])
	if err := CheckSigningKey(current); err != nil {
		return nil, err
	}
	keys := []string{current}
	if previous, ok := secret.Data[key+PreviousKeySuffix]; ok {
		if err := CheckSigningKey(string(previous)); err != nil {
			return nil, err
		}
		if string(previous) != current { // the same key twice would only sign twice
			keys = append(keys, string(previous))
		}
	}
	return keys, nil
}
