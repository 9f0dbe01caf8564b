package controllers_test

import (
	"os"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// The GitOps path: kubectl applies config/samples/ to the API server, as a pipeline would, and
// the sample organization becomes usable as far as the control plane goes.
var _ = Describe("config/samples applied with kubectl", func() {
	It("yields a validated organization with a token and a base URL", func() {
		kubeconfig := filepath.Join(GinkgoT().TempDir(), "kubeconfig")
		Expect(os.WriteFile(kubeconfig, testEnv.KubeConfig, 0o600)).To(Succeed())
		kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")

		out, err := exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "apply", "-k", filepath.Join("..", "config", "samples")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(ContainSubstring("scimintegration.enterprise.z8z8.io/acme created"))

		eid := &v1alpha1.EnterpriseIdentity{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}}
		eventually(condition(eid, v1alpha1.ConditionReady)).Should(beTrue("Ready"))
		Expect(eid.Status.SSO.IdPEntityID).To(Equal("https://idp.acme.example/saml"))

		scim := &v1alpha1.ScimIntegration{ObjectMeta: metav1.ObjectMeta{Namespace: "acme", Name: "acme"}}
		eventually(condition(scim, v1alpha1.ConditionTokenIssued)).Should(beTrue("Issued"))
		Expect(scim.Status.BaseURL).To(Equal("http://127.0.0.1:8080/scim/v2/acme"))
		Expect(condition(scim, v1alpha1.ConditionReady)()).To(beFalse("DataPlaneNotServing"))

		out, err = exec.CommandContext(ctx, kubectl, "--kubeconfig", kubeconfig, "get", "eid,scim", "-A").CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(SatisfyAll(ContainSubstring("BASE URL"), ContainSubstring("REASON"), ContainSubstring("http://127.0.0.1:8080/scim/v2/acme")))
	})
})

var _ = Describe("config/default", func() {
	It("builds into the CRDs, RBAC and the manager Deployment with kubectl kustomize", func() {
		kubectl := filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl")
		out, err := exec.CommandContext(ctx, kubectl, "kustomize", filepath.Join("..", "config", "default")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))
		Expect(string(out)).To(SatisfyAll(
			ContainSubstring("name: scimintegrations.enterprise.z8z8.io"),
			ContainSubstring("name: enterprise-identity-manager-role"),
			ContainSubstring("kind: Deployment"),
			ContainSubstring("name: enterprise-identity-operator\n  namespace: enterprise-identity-system"),
		))
	})
})
