package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
	"github.com/z8z8/enterprise-identity-operator/internal/localenv"
)

// localSetup applies the samples once the operator runs (--local) and tells the person at the
// terminal where everything is.
type localSetup struct {
	client  client.Client
	options options
}

// NeedLeaderElection is false: local mode has one replica and the samples are applied once.
func (l *localSetup) NeedLeaderElection() bool { return false }

func (l *localSetup) Start(ctx context.Context) error {
	if err := localenv.CreateMissing(ctx, l.client, l.options.samplesDir); err != nil {
		return fmt.Errorf("applying %s: %w", l.options.samplesDir, err)
	}
	integrations := l.waitForBaseURLs(ctx, 60*time.Second)
	l.printGuide(integrations)
	<-ctx.Done()
	return nil
}

// waitForBaseURLs waits until the controller has reported on every ScimIntegration (a Ready
// condition, whatever its status), or the timeout passes.
func (l *localSetup) waitForBaseURLs(ctx context.Context, timeout time.Duration) []v1alpha1.ScimIntegration {
	deadline := time.Now().Add(timeout)
	for {
		list := &v1alpha1.ScimIntegrationList{}
		err := l.client.List(ctx, list)
		ready := err == nil && len(list.Items) > 0
		for _, s := range list.Items {
			ready = ready && meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady) != nil
		}
		if ready || time.Now().After(deadline) || ctx.Err() != nil {
			return list.Items
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func (l *localSetup) printGuide(integrations []v1alpha1.ScimIntegration) {
	kubeconfig := filepath.Join(l.options.localDir, "kubeconfig")
	kubectl := "bin/kubectl --kubeconfig " + kubeconfig
	var b strings.Builder
	fmt.Fprintf(&b, "\n==> Enterprise Identity Operator is running locally. Ctrl-C stops everything.\n")
	fmt.Fprintf(&b, "    kubeconfig:  %s\n", kubeconfig)
	fmt.Fprintf(&b, "    try:         %s get eid,scim -A\n", kubectl)
	for _, s := range integrations {
		fmt.Fprintf(&b, "\n    Organization %s (ScimIntegration %s/%s)\n", s.Status.Organization, s.Namespace, s.Name)
		if s.Status.BaseURL == "" {
			if c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady); c != nil {
				fmt.Fprintf(&b, "    Not ready yet (%s): %s\n", c.Reason, c.Message)
			}
			continue
		}
		fmt.Fprintf(&b, "    SCIM base URL: %s\n", s.Status.BaseURL)
		if t := s.Status.Token; t != nil && t.Retrievable {
			fmt.Fprintf(&b, "    Bearer token (shown once; the second command tells the operator it was copied):\n")
			fmt.Fprintf(&b, "      %s -n %s get secret %s -o jsonpath='{.data.token}' | base64 -d; echo\n", kubectl, s.Namespace, t.SecretName)
			fmt.Fprintf(&b, "      %s -n %s annotate secret %s %s=true\n", kubectl, s.Namespace, t.SecretName, v1alpha1.AnnotationTokenAcknowledged)
			fmt.Fprintf(&b, "    (the first authenticated SCIM request acknowledges it too). Try:\n")
			fmt.Fprintf(&b, "      curl -H \"Authorization: Bearer $TOKEN\" '%s/Users?filter=userName%%20eq%%20%%22nobody%%22'\n", s.Status.BaseURL)
		} else if t != nil {
			fmt.Fprintf(&b, "    Bearer token %s was already copied; raise spec.token.rotation for a new one.\n", t.Fingerprint)
		}
	}
	fmt.Fprintf(&b, "\n    Wizard: %s/settings/enterprise/identity-setup\n", strings.TrimRight(l.options.externalURL, "/"))
	fmt.Fprintf(&b, "    (you are the local cluster admin: SSO, SCIM, credentials, self-test, status and logs, members)\n\n")
	_, _ = os.Stdout.WriteString(b.String())
}
