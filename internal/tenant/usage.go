package tenant

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

// lastUsedInterval bounds how often a token's last use is written to its Secret;
// acknowledgeRetry how often its acknowledgement is, while the token is still retrievable.
const (
	lastUsedInterval = time.Minute
	acknowledgeRetry = 5 * time.Second
)

// UsageRecorder turns successful authentications into Secret annotations: the first request with
// a still-retrievable token acknowledges it (the identity provider evidently has it, so the
// controller removes the plaintext), and last use is recorded at most once a minute per token.
// Bring-your-own Secrets are never written.
type UsageRecorder struct {
	Client   client.Client
	Registry *Registry

	mu      sync.Mutex
	written map[string]time.Time
	swept   time.Time // when forgetOlderThan last looked through written
}

// NeedLeaderElection is false: each replica reports the requests it served.
func (u *UsageRecorder) NeedLeaderElection() bool { return false }

// Start drains the registry's use reports until ctx ends.
func (u *UsageRecorder) Start(ctx context.Context) error {
	u.written = map[string]time.Time{}
	for {
		select {
		case <-ctx.Done():
			return nil
		case c := <-u.Registry.Uses():
			u.record(ctx, c)
		}
	}
}

func (u *UsageRecorder) record(ctx context.Context, c Caller) {
	o := c.Organization
	if !o.Generated {
		return
	}
	now := time.Now().UTC()
	acknowledge := o.Retrievable && c.Current
	u.mu.Lock()
	last := u.written[c.Fingerprint]
	// An acknowledgement is written at once, but not again for acknowledgeRetry: until the
	// controller removes the plaintext, every request of the token asks for one, and one
	// organization's identity provider at its rate limit would otherwise patch its Secret with
	// each, while the other organizations' reports wait behind them (and are dropped).
	due := now.Sub(last) >= lastUsedInterval || acknowledge && now.Sub(last) >= acknowledgeRetry
	if due {
		u.forgetOlderThan(now.Add(-lastUsedInterval))
		u.written[c.Fingerprint] = now
	}
	u.mu.Unlock()
	if !due {
		return
	}
	u.write(ctx, c, now, acknowledge)
}

// write records the use on the token Secret as this replica's cache has it, with an optimistic
// lock: a Secret rotated since (a replica that has not seen the rotation yet still accepts the
// old token as current) fails the patch, and the new token's plaintext is not acknowledged by a
// use of the old one. Only a use of the Secret's current token acknowledges it, and a last use
// another replica wrote within the interval is left as it is: N replicas behind one ingress
// would otherwise patch each Secret N times a minute, each waking the controller.
func (u *UsageRecorder) write(ctx context.Context, c Caller, now time.Time, acknowledge bool) {
	o := c.Organization
	log := ctrl.Log.WithName("tenant")
	secret := &corev1.Secret{}
	if err := u.Client.Get(ctx, o.TokenSecret, secret); err != nil {
		log.Error(err, "Reading the token Secret to record its use", "organization", o.Name, "token", c.Fingerprint)
		return
	}
	current := token.Fingerprint(string(secret.Data[v1alpha1.SecretKeySHA256])) == c.Fingerprint
	acknowledge = acknowledge && current && secret.Annotations[v1alpha1.AnnotationTokenAcknowledged] == ""
	if last, err := time.Parse(time.RFC3339, secret.Annotations[v1alpha1.AnnotationTokenLastUsedAt]); !acknowledge && err == nil &&
		now.Sub(last) < lastUsedInterval {
		return
	}
	original := secret.DeepCopy()
	if secret.Annotations == nil {
		secret.Annotations = map[string]string{}
	}
	secret.Annotations[v1alpha1.AnnotationTokenLastUsedAt] = now.Format(time.RFC3339)
	if acknowledge {
		secret.Annotations[v1alpha1.AnnotationTokenAcknowledged] = "first-authenticated-request"
	}
	err := u.Client.Patch(ctx, secret, client.MergeFromWithOptions(original, client.MergeFromWithOptimisticLock{}))
	if err != nil && !apierrors.IsConflict(err) { // a conflict: the Secret changed; the next use writes again
		log.Error(err, "Recording token use", "organization", o.Name, "token", c.Fingerprint)
	}
}

// forgetOlderThan drops the tokens last written before t once there are many, at most once an
// interval: an entry that old decides nothing (the next use is due anyway), and tokens come and
// go with every rotation. u.mu is held.
func (u *UsageRecorder) forgetOlderThan(t time.Time) {
	if len(u.written) < maxRememberedTokens || u.swept.After(t) {
		return
	}
	u.swept = t.Add(lastUsedInterval)
	for fingerprint, at := range u.written {
		if at.Before(t) {
			delete(u.written, fingerprint)
		}
	}
}

// maxRememberedTokens is how many tokens' last writes are kept before the old ones are dropped.
const maxRememberedTokens = 1024
