package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"sigs.k8s.io/yaml"
)

// helm runs the pinned helm binary (make test passes it in HELM).
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM is not set: run through make test, which installs the pinned helm")
	}
	out, err := exec.CommandContext(t.Context(), bin, args...).CombinedOutput() //nolint:gosec // the pinned helm, test arguments
	return string(out), err
}

// The Helm chart renders what the API server accepts, refuses values that cannot work, and gives
// the manager the rights the operator needs: checked against a real kube-apiserver.
func TestHelmChart(t *testing.T) {
	g := NewWithT(t)
	sys := start(t)
	chart := filepath.Join("..", "..", "charts", "enterprise-identity-operator")
	render := func(name string, sets ...string) string {
		args := []string{"template", "eio", chart, "--namespace", "eio-system", "--include-crds"}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		out, err := helm(t, args...)
		g.Expect(err).NotTo(HaveOccurred(), out)
		file := filepath.Join(t.TempDir(), name+".yaml")
		g.Expect(os.WriteFile(file, []byte(out), 0o600)).To(Succeed())
		return file
	}

	By := func(s string) { t.Log(s) }
	By("helm lint passes")
	out, err := helm(t, "lint", chart, "--set", "externalURL=https://scim.example.com")
	g.Expect(err).NotTo(HaveOccurred(), out)

	By("values that cannot work are refused with a reason")
	for want, sets := range map[string][]string{
		"externalURL is required":    nil,
		"exactly one replica":        {"externalURL=https://scim.example.com", "replicaCount=2"},
		"existingSecret":             {"externalURL=https://scim.example.com", "store.type=postgres"},
		"networkPolicy.enabled=true": {"externalURL=https://scim.example.com", "trustProxyHeaders=true"},
		"trustProxyHeaders=true needs trustedProxyCIDRs": {"externalURL=https://scim.example.com", "trustProxyHeaders=true", "networkPolicy.enabled=true",
			"networkPolicy.allowFrom[0].podSelector.matchLabels.app=oauth2-proxy"},
		`"0.0.0.0/0" must be a CIDR naming only your proxy`: {"externalURL=https://scim.example.com", "trustProxyHeaders=true", "networkPolicy.enabled=true",
			"networkPolicy.allowFrom[0].podSelector.matchLabels.app=oauth2-proxy", "trustedProxyCIDRs={0.0.0.0/0}"},
		"serviceAccount.name": {"externalURL=https://scim.example.com", "serviceAccount.create=false"},
	} {
		args := []string{"template", "eio", chart}
		for _, set := range sets {
			args = append(args, "--set", set)
		}
		out, err := helm(t, args...)
		g.Expect(err).To(HaveOccurred(), "%v", sets)
		g.Expect(out).To(ContainSubstring(want))
	}

	By("the SQLite install: one replica on a kept volume; the API server accepts every object")
	sys.kubectl(t, "create", "namespace", "eio-system")
	sqlite := render("sqlite", "externalURL=https://scim.example.com")
	rendered, _ := os.ReadFile(sqlite)
	g.Expect(string(rendered)).To(SatisfyAll(ContainSubstring("--sqlite-path=/var/lib/enterprise-identity/identity.db"),
		ContainSubstring("kind: PersistentVolumeClaim"), ContainSubstring("helm.sh/resource-policy: keep"),
		ContainSubstring("--data-plane-service=eio-enterprise-identity-operator.eio-system.svc.cluster.local"),
		ContainSubstring("type: Recreate"), Not(ContainSubstring("EIO_POSTGRES_URL")),
		ContainSubstring("--max-organization-rate-limit=1000"), ContainSubstring("--max-organization-burst=2000"),
		ContainSubstring("--session-key-file=/etc/enterprise-identity/session/key"), ContainSubstring("name: eio-enterprise-identity-operator-session")))
	sys.kubectl(t, "apply", "--server-side", "--force-conflicts", "-n", "eio-system", "-f", sqlite)

	By("the session key every replica shares is generated once, long enough for the manager")
	key := decodeBase64(t, sys.kubectl(t, "-n", "eio-system", "get", "secret", "eio-enterprise-identity-operator-session", "-o", "jsonpath={.data.key}"))
	g.Expect(len(key)).To(BeNumerically(">=", 32))

	By("the manager's service account may do what the operator does")
	sa := "--as=system:serviceaccount:eio-system:eio-enterprise-identity-operator"
	for _, check := range [][]string{
		{"impersonate", "users"}, {"impersonate", "groups"},
		{"update", "scimintegrations.enterprise.z8z8.io/status", "-A"}, {"watch", "enterpriseidentities.enterprise.z8z8.io", "-A"},
		{"create", "secrets", "-n", "acme"}, {"create", "ingresses.networking.k8s.io", "-n", "acme"},
		{"create", "subjectaccessreviews.authorization.k8s.io"}, {"create", "tokenreviews.authentication.k8s.io"},
		{"create", "leases.coordination.k8s.io", "-n", "eio-system"}, {"create", "events", "-n", "eio-system"},
	} {
		out := strings.TrimSpace(sys.kubectl(t, append([]string{"auth", "can-i", sa}, check...)...))
		g.Expect(out[strings.LastIndex(out, "\n")+1:]).To(Equal("yes"), "can-i %v", check) // after any warning
	}
	managerImpersonates(t, sys, "eio-system", "eio-enterprise-identity-operator") // with UID and extras
	// can-i exits 1 for "no".
	denied, _ := exec.CommandContext(t.Context(), filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), "--kubeconfig", sys.kubeconfig, //nolint:gosec // test kubectl
		"auth", "can-i", sa, "delete", "namespaces").CombinedOutput()
	words := strings.Fields(string(denied))
	g.Expect(words[len(words)-1]).To(Equal("no"))

	By("metrics are protected by default: HTTPS, Kubernetes authentication and authorization, a reader role")
	g.Expect(string(rendered)).To(SatisfyAll(ContainSubstring("--metrics-secure"), ContainSubstring("name: eio-enterprise-identity-operator-metrics-reader"),
		ContainSubstring(`nonResourceURLs: ["/metrics"]`), Not(ContainSubstring("kind: ServiceMonitor")), Not(ContainSubstring("kind: PrometheusRule")),
		Not(ContainSubstring("--metrics-cert-dir"))))
	plain, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "metrics.secure=false",
		"--set", "metrics.serviceMonitor.enabled=true")
	g.Expect(err).NotTo(HaveOccurred(), plain)
	g.Expect(plain).To(SatisfyAll(Not(ContainSubstring("--metrics-secure")), Not(ContainSubstring("metrics-reader")), ContainSubstring("scheme: http\n"),
		Not(ContainSubstring("bearerTokenFile")), Not(ContainSubstring("metrics-scraper")), Not(ContainSubstring("authorization:"))))

	By("a session key of the user's (GitOps): no generated Secret, which would change at every render")
	own, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "sessionKey.existingSecret=eio-session")
	g.Expect(err).NotTo(HaveOccurred(), own)
	g.Expect(own).To(SatisfyAll(ContainSubstring("secretName: eio-session\n"), Not(ContainSubstring("name: eio-enterprise-identity-operator-session"))))

	By("a ServiceMonitor's tlsConfig: the self-signed certificate accepted by default, checked once a CA is given")
	insecure, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "metrics.serviceMonitor.enabled=true")
	g.Expect(err).NotTo(HaveOccurred(), insecure)
	g.Expect(insecure).To(ContainSubstring("insecureSkipVerify: true"))
	checked, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "metrics.serviceMonitor.enabled=true",
		"--set", "metrics.serviceMonitor.tlsConfig.serverName=eio.eio-system.svc", "--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=eio-metrics-ca",
		"--set", "metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt")
	g.Expect(err).NotTo(HaveOccurred(), checked)
	g.Expect(checked).To(SatisfyAll(ContainSubstring("serverName: eio.eio-system.svc"), Not(ContainSubstring("insecureSkipVerify"))))

	By("monitoring by value: ServiceMonitor, PrometheusRule, Grafana dashboard, a bound reader, a certificate Secret")
	monitoring := render("monitoring", "externalURL=https://scim.example.com", "metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true",
		"metrics.dashboard.enabled=true", "metrics.certSecret=eio-metrics-tls", "metrics.readers[0].kind=ServiceAccount",
		"metrics.readers[0].name=prometheus", "metrics.readers[0].namespace=monitoring")
	rendered, _ = os.ReadFile(monitoring)
	var known []string // what this API server has kinds for (no prometheus-operator CRDs here)
	alerts := map[string]bool{}
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		var obj struct {
			Kind string `json:"kind"`
			Spec struct {
				Endpoints []map[string]any `json:"endpoints"`
				Groups    []struct {
					Rules []struct {
						Alert string `json:"alert"`
						Expr  string `json:"expr"`
					} `json:"rules"`
				} `json:"groups"`
			} `json:"spec"`
			Data map[string]string `json:"data"`
		}
		g.Expect(yaml.Unmarshal([]byte(doc), &obj)).To(Succeed(), doc)
		switch obj.Kind {
		case "ServiceMonitor":
			// The chart's scraper token, not a file of Prometheus's (refused where prometheus-operator
			// denies ServiceMonitors file access, and deprecated).
			g.Expect(obj.Spec.Endpoints).To(ConsistOf(SatisfyAll(HaveKeyWithValue("port", "metrics"), HaveKeyWithValue("scheme", "https"),
				HaveKeyWithValue("authorization", HaveKeyWithValue("credentials", map[string]any{
					"name": "eio-enterprise-identity-operator-metrics-scraper-token", "key": "token"})),
				Not(HaveKey("bearerTokenFile")), HaveKey("tlsConfig"))))
		case "PrometheusRule":
			for _, r := range obj.Spec.Groups[0].Rules {
				g.Expect(r.Expr).To(ContainSubstring("eio_"), r.Alert)
				alerts[r.Alert] = true
			}
		case "ConfigMap":
			if board, ok := obj.Data["enterprise-identity-operator.json"]; ok {
				var parsed map[string]any
				g.Expect(json.Unmarshal([]byte(board), &parsed)).To(Succeed())
				g.Expect(parsed).To(HaveKeyWithValue("uid", "enterprise-identity-operator"))
				g.Expect(doc).To(ContainSubstring(`grafana_dashboard: "1"`))
			}
			known = append(known, doc)
		default:
			known = append(known, doc)
		}
	}
	g.Expect(alerts).To(HaveLen(10))
	g.Expect(alerts).To(SatisfyAll(HaveKey("EIOScimErrorBurst"), HaveKey("EIOScimTokenExpiringSoon"), HaveKey("EIOScimTokenUnused"),
		HaveKey("EIODeprovisioningHeld"), HaveKey("EIOStoreCommitErrors"), HaveKey("EIOAuditEventsDropped"), HaveKey("EIOGroupWorkBehind"), HaveKey("EIOEventDeliveryFailing")))
	g.Expect(string(rendered)).To(SatisfyAll(ContainSubstring("--metrics-cert-dir=/etc/enterprise-identity/metrics-tls"),
		ContainSubstring("secretName: eio-metrics-tls")))
	g.Expect(os.WriteFile(monitoring, []byte(strings.Join(known, "\n---\n")), 0o600)).To(Succeed())
	sys.kubectl(t, "apply", "--server-side", "--force-conflicts", "-n", "eio-system", "-f", monitoring)
	out = strings.TrimSpace(sys.kubectl(t, "auth", "can-i", "--as=system:serviceaccount:monitoring:prometheus", "get", "/metrics"))
	g.Expect(out[strings.LastIndex(out, "\n")+1:]).To(Equal("yes"), "the bound reader may read /metrics")
	scraper := "--as=system:serviceaccount:eio-system:eio-enterprise-identity-operator-metrics-scraper"
	for check, want := range map[string]string{"get /metrics": "yes", "get secrets": "no", "list scimintegrations.enterprise.z8z8.io -A": "no"} {
		// can-i exits 1 for "no".
		got, _ := exec.CommandContext(t.Context(), filepath.Join(os.Getenv("KUBEBUILDER_ASSETS"), "kubectl"), //nolint:gosec // test kubectl
			append([]string{"--kubeconfig", sys.kubeconfig, "auth", "can-i", scraper}, strings.Fields(check)...)...).CombinedOutput()
		words := strings.Fields(string(got))
		g.Expect(words).NotTo(BeEmpty())
		g.Expect(words[len(words)-1]).To(Equal(want), "the ServiceMonitor's scraper: can-i %s", check)
	}
	g.Expect(sys.kubectl(t, "-n", "eio-system", "get", "secret", "eio-enterprise-identity-operator-metrics-scraper-token",
		"-o", "jsonpath={.type} {.metadata.annotations.kubernetes\\.io/service-account\\.name}")).
		To(Equal("kubernetes.io/service-account-token eio-enterprise-identity-operator-metrics-scraper"))
	fileToken, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "metrics.serviceMonitor.enabled=true",
		"--set", "metrics.serviceMonitor.scraperToken=false")
	g.Expect(err).NotTo(HaveOccurred(), fileToken)
	g.Expect(fileToken).To(SatisfyAll(ContainSubstring("bearerTokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token"),
		Not(ContainSubstring("metrics-scraper")), Not(ContainSubstring("authorization:"))))
	// Without the chart's RBAC nothing binds the scraper: its token would get 403, so the file is used.
	unbound, err := helm(t, "template", "eio", chart, "--set", "externalURL=https://scim.example.com", "--set", "metrics.serviceMonitor.enabled=true",
		"--set", "rbac.create=false")
	g.Expect(err).NotTo(HaveOccurred(), unbound)
	g.Expect(unbound).To(SatisfyAll(ContainSubstring("bearerTokenFile:"), Not(ContainSubstring("metrics-scraper"))))

	By("the PostgreSQL install: replicas scale out, the URL comes from a Secret, no volume")
	By("behind a proxy: only the proxy and the ingress controller may reach the data plane")
	postgres := render("postgres", "externalURL=https://scim.example.com", "store.type=postgres", "store.postgres.existingSecret=eio-postgres",
		"replicaCount=3", "trustProxyHeaders=true", "trustedProxyCIDRs={10.8.3.17/32,fd00::17/128}", "networkPolicy.enabled=true",
		"allowOutboundCIDRs={10.20.0.0/24}", "forwardedForCIDRs={10.244.3.0/24}",
		`networkPolicy.allowFrom[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=oauth2-proxy`,
		`networkPolicy.allowFrom[1].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=ingress-nginx`)
	rendered, _ = os.ReadFile(postgres)
	g.Expect(string(rendered)).To(SatisfyAll(ContainSubstring("replicas: 3"), ContainSubstring("name: EIO_POSTGRES_URL"),
		ContainSubstring("name: eio-postgres"), ContainSubstring("--trust-proxy-headers"), ContainSubstring("--trusted-proxy-cidrs=10.8.3.17/32,fd00::17/128"),
		ContainSubstring("--allow-outbound-cidrs=10.20.0.0/24"), ContainSubstring("--forwarded-for-cidrs=10.244.3.0/24"),
		ContainSubstring("kind: NetworkPolicy"), ContainSubstring("kubernetes.io/metadata.name: oauth2-proxy"),
		Not(ContainSubstring("kind: PersistentVolumeClaim")), Not(ContainSubstring("--sqlite-path")),
		ContainSubstring("kind: PodDisruptionBudget"), ContainSubstring("podAntiAffinity"), ContainSubstring("mountPath: /tmp")))
	sys.kubectl(t, "apply", "--dry-run=server", "-n", "eio-system", "-f", postgres)

	By("an authenticating proxy beside the manager: in its pod, and the Service sends traffic to it")
	sidecar := render("sidecar", "externalURL=https://scim.example.com", "trustProxyHeaders=true", "trustedProxyCIDRs={127.0.0.1/32}",
		"networkPolicy.enabled=true", `networkPolicy.allowFrom[0].namespaceSelector.matchLabels.kubernetes\.io/metadata\.name=ingress-nginx`,
		"service.targetPort=proxy", "extraContainers[0].name=oauth2-proxy", "extraContainers[0].image=quay.io/oauth2-proxy/oauth2-proxy:v7.6.0",
		"extraContainers[0].args={--upstream=http://127.0.0.1:8080,--skip-auth-route=^/scim/v2/}",
		"extraContainers[0].ports[0].name=proxy", "extraContainers[0].ports[0].containerPort=4180")
	rendered, _ = os.ReadFile(sidecar)
	g.Expect(string(rendered)).To(SatisfyAll(ContainSubstring("name: oauth2-proxy"), ContainSubstring("targetPort: proxy"),
		ContainSubstring("containerPort: 4180"), ContainSubstring("--trusted-proxy-cidrs=127.0.0.1/32"),
		ContainSubstring("- port: proxy")), "the NetworkPolicy, which a proxy needs, lets its port be reached")
	sys.kubectl(t, "apply", "--dry-run=server", "-n", "eio-system", "-f", sidecar)
}
