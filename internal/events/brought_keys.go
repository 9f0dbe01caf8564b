package events

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// A brought signing key (spec.signingKey) is in a tenant's own Secret, which the manager does not
// cache (internal/secrets): it is read from the API server. Those reads were per subscription and
// on the deliverer's scheduling loop, so one tenant's many subscriptions naming a large Secret
// expired together and held the start of every namespace's deliveries for a read each, one after
// another. Now a key is kept per Secret and data key, shared by every subscription naming it and
// by the EventSubscription controller; it is read only where it is needed (a pair's run, a
// reconcile), never on the scheduling loop; once its time is up, a metadata-only read tells
// whether the Secret changed before its data is read again; and each read has a timeout, with at
// most keyReadsPerNamespace of one namespace at once. A tenant's slow or large Secrets cost its
// own deliveries the wait, not other namespaces'.

const (
	// broughtKeyTTL is how long a brought key is used before its Secret is looked at again: a
	// key changed in its Secret is used within this time.
	broughtKeyTTL = time.Minute
	// transientKeyRetry is how soon a read that failed for the API server's reasons is tried again.
	transientKeyRetry = 5 * time.Second
	// keyReadTimeout bounds one read of a brought key's Secret.
	keyReadTimeout = 5 * time.Second
	// keyReadsPerNamespace bounds the reads of one namespace's Secrets at once.
	keyReadsPerNamespace = 2
)

// BroughtKeys keeps brought signing keys, per Secret and data key.
type BroughtKeys struct {
	// Reader reads Secrets from the API server.
	Reader client.Reader
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	entries map[keyRef]*broughtKey
	slots   map[string]chan struct{} // per namespace, one per read in flight
	swept   time.Time
}

// broughtKey is one key as last read, the subscriptions naming it share it.
type broughtKey struct {
	keys []string
	err  error
	// resourceVersion is the Secret's when its data was read ("" when it was not).
	resourceVersion string
	// read is when the Secret was last looked at (zero: never), due when it is looked at again.
	read, due, used time.Time
	// reading is closed when the read in flight ends; nil when none is.
	reading chan struct{}
}

// SigningKeys reads a subscription's keys: a generated key from cached (the manager's cache), a
// brought one as kept here.
func (b *BroughtKeys) SigningKeys(ctx context.Context, cached client.Reader, sub *v1alpha1.EventSubscription) ([]string, error) {
	if sub.Spec.SigningKey == nil {
		return SigningKeys(ctx, cached, nil, sub)
	}
	return b.Keys(ctx, sub)
}

// Keys returns a brought key, reading its Secret when its time is up (one read at a time per key:
// the others wait for it).
func (b *BroughtKeys) Keys(ctx context.Context, sub *v1alpha1.EventSubscription) ([]string, error) {
	ref := keyRefOf(sub)
	for {
		b.mu.Lock()
		now := b.now()
		e := b.entry(ref, now)
		if now.Before(e.due) {
			keys, err := e.keys, e.err
			b.mu.Unlock()
			return keys, err
		}
		wait := e.reading
		if wait == nil {
			e.reading = make(chan struct{})
		}
		b.mu.Unlock()
		if wait == nil {
			return b.lastRead(e, b.refresh(ctx, ref, e))
		}
		select {
		case <-wait:
		case <-ctx.Done():
			return b.lastRead(e, ctx.Err())
		}
	}
}

func (b *BroughtKeys) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// lastRead is what the key's last read gave, or err when it was never read (a read that did
// not get its turn before ctx ended).
func (b *BroughtKeys) lastRead(e *broughtKey, err error) ([]string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if e.read.IsZero() {
		return nil, err
	}
	return e.keys, e.err
}

// refresh reads the key's Secret in its namespace's turn and records what it found; it fails
// only when ctx ended before its turn came.
func (b *BroughtKeys) refresh(ctx context.Context, ref keyRef, e *broughtKey) error {
	defer func() {
		b.mu.Lock()
		close(e.reading)
		e.reading = nil
		b.mu.Unlock()
	}()
	slot := b.slot(ref.namespace)
	select {
	case slot <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-slot }()
	ctx, cancel := context.WithTimeout(ctx, keyReadTimeout)
	defer cancel()
	name := types.NamespacedName{Namespace: ref.namespace, Name: ref.name}
	b.mu.Lock()
	version := e.resourceVersion
	b.mu.Unlock()
	if version != "" {
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := b.Reader.Get(ctx, name, meta)
		switch {
		case err == nil && meta.ResourceVersion == version:
			b.unchanged(e) // what it gave stands, its data unread
			return nil
		case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
			b.record(e, "", nil, err)
			return nil
		}
	}
	secret := &corev1.Secret{}
	err := b.Reader.Get(ctx, name, secret)
	var keys []string
	if err == nil {
		keys, err = keysIn(secret, ref.key)
	}
	b.record(e, secret.ResourceVersion, keys, err)
	return nil
}

// record keeps what a read found. The tenant's doing (a key, a missing or forbidden Secret, a
// malformed key) is kept as long as a key: hundreds of subscriptions naming a missing Secret
// would otherwise cost a read each, every interval. The API server's trouble (a timeout
// included) leaves the keys read before serving, and is tried again in transientKeyRetry.
func (b *BroughtKeys) record(e *broughtKey, version string, keys []string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	e.read = now
	if err == nil || apierrors.IsNotFound(err) || apierrors.IsForbidden(err) || errors.Is(err, ErrBadSigningKey) {
		e.keys, e.err, e.resourceVersion, e.due = keys, err, version, now.Add(broughtKeyTTL)
		return
	}
	if e.err != nil || e.keys == nil {
		e.keys, e.err = nil, err
	}
	e.due = now.Add(transientKeyRetry)
}

// unchanged records that the key's Secret is as it was read.
func (b *BroughtKeys) unchanged(e *broughtKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e.read = b.now()
	e.due = e.read.Add(broughtKeyTTL)
}

// entry is ref's entry, made when missing; b.mu is held. Entries no subscription asked for in a
// while go, at most once per broughtKeyTTL, so the map stays the size of the keys in use.
func (b *BroughtKeys) entry(ref keyRef, now time.Time) *broughtKey {
	if b.entries == nil {
		b.entries, b.slots = map[keyRef]*broughtKey{}, map[string]chan struct{}{}
	}
	if now.Sub(b.swept) > broughtKeyTTL {
		b.swept = now
		inUse := map[string]bool{}
		for r, e := range b.entries {
			if e.reading == nil && now.Sub(e.used) > 5*broughtKeyTTL {
				delete(b.entries, r)
			} else {
				inUse[r.namespace] = true
			}
		}
		for ns, slot := range b.slots {
			if !inUse[ns] && len(slot) == 0 {
				delete(b.slots, ns)
			}
		}
	}
	e := b.entries[ref]
	if e == nil {
		e = &broughtKey{}
		b.entries[ref] = e
	}
	e.used = now
	return e
}

// slot is the namespace's channel of read turns.
func (b *BroughtKeys) slot(namespace string) chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.slots[namespace]
	if s == nil {
		s = make(chan struct{}, keyReadsPerNamespace)
		b.slots[namespace] = s
	}
	return s
}
