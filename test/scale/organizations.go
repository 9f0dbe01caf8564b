package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/test/localidp"
)

// organization is one EnterpriseIdentity + ScimIntegration pair, named like its organization.
type organization struct{ namespace, name string }

// applyOrganizations creates namespaces × perNamespace organizations, as kubectl apply of many
// files would: SAML with inline metadata (no identity provider to reach), a generated token.
func applyOrganizations(ctx context.Context, c client.Client, namespaces, perNamespace int) ([]organization, error) {
	// One certificate for all: generating 1,000 RSA keys would measure this program.
	cert := localidp.Certificate(time.Now().Add(2 * 365 * 24 * time.Hour))
	var orgs []organization
	for n := range namespaces {
		ns := fmt.Sprintf("tenant-%02d", n)
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return nil, fmt.Errorf("creating namespace %s: %w", ns, err)
		}
		for i := range perNamespace {
			orgs = append(orgs, organization{namespace: ns, name: fmt.Sprintf("org-%02d-%03d", n, i)})
		}
	}
	err := parallel(16, len(orgs), func(i int) error {
		o := orgs[i]
		entity := "https://idp." + o.name + ".example/saml"
		eid := &v1alpha1.EnterpriseIdentity{
			ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name},
			Spec: v1alpha1.EnterpriseIdentitySpec{Organization: o.name, SSO: v1alpha1.SSOSpec{SAML: &v1alpha1.SAMLSpec{
				EntityID: entity,
				Metadata: string(localidp.SAMLMetadata(entity, "https://idp."+o.name+".example/sso", cert)),
			}}},
		}
		if err := c.Create(ctx, eid); err != nil {
			return fmt.Errorf("creating EnterpriseIdentity %s/%s: %w", o.namespace, o.name, err)
		}
		scim := &v1alpha1.ScimIntegration{
			ObjectMeta: metav1.ObjectMeta{Namespace: o.namespace, Name: o.name},
			Spec:       v1alpha1.ScimIntegrationSpec{IdentityRef: v1alpha1.LocalRef{Name: o.name}, Enabled: ptr.To(true)},
		}
		if err := c.Create(ctx, scim); err != nil {
			return fmt.Errorf("creating ScimIntegration %s/%s: %w", o.namespace, o.name, err)
		}
		return nil
	})
	return orgs, err
}

// waitReady waits until every EnterpriseIdentity and ScimIntegration is Ready.
func waitReady(ctx context.Context, c client.Client, want int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ready, err := countReady(ctx, c)
		if err != nil {
			return err
		}
		if ready >= 2*want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d objects Ready after %s", ready, 2*want, timeout)
		}
		time.Sleep(time.Second)
	}
}

func countReady(ctx context.Context, c client.Client) (int, error) {
	eids := &v1alpha1.EnterpriseIdentityList{}
	scims := &v1alpha1.ScimIntegrationList{}
	if err := c.List(ctx, eids); err != nil {
		return 0, err
	}
	if err := c.List(ctx, scims); err != nil {
		return 0, err
	}
	n := 0
	for i := range eids.Items {
		if meta.IsStatusConditionTrue(eids.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
			n++
		}
	}
	for i := range scims.Items {
		if meta.IsStatusConditionTrue(scims.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
			n++
		}
	}
	return n, nil
}

// createUnrelatedSecrets creates n Secrets the operator has no business with, each as kubectl
// apply leaves one: 1 KiB of data, repeated in the last-applied annotation.
func createUnrelatedSecrets(ctx context.Context, c client.Client, n int) error {
	const ns = "unrelated"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	value := strings.Repeat("x", 1024)
	return parallel(16, n, func(i int) error {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("app-%05d", i),
				Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"stringData":{"value":"` + value + `"}}`}},
			StringData: map[string]string{"value": value},
		}
		if err := c.Create(ctx, s); err != nil {
			return fmt.Errorf("creating Secret %s: %w", s.Name, err)
		}
		return nil
	})
}

// parallel runs fn(0..n-1) on workers goroutines and returns the first error.
func parallel(workers, n int, fn func(int) error) error {
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
		next  = make(chan int)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}
