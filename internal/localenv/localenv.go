// Package localenv runs the whole system on one machine for `make run`: a real kube-apiserver
// and etcd (built by hack/control-plane.sh), the CRDs installed, and the samples applied.
package localenv

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Options say where things are.
type Options struct {
	// Dir holds local state: kubeconfig, etcd data, the SQLite database.
	Dir string
	// CRDDir holds the CRD manifests to install.
	CRDDir string
	// AssetsDir holds kube-apiserver, etcd and kubectl.
	AssetsDir string
}

// ControlPlane is a running local kube-apiserver and etcd.
type ControlPlane struct {
	env *envtest.Environment
	// Config reaches the API server as a cluster administrator.
	Config *rest.Config
	// KubeconfigPath is where a kubeconfig for kubectl was written.
	KubeconfigPath string
}

// Start brings up the control plane with etcd data kept in Dir, so objects (and their token
// Secrets) survive a restart, installs the CRDs and writes Dir/kubeconfig.
func Start(opts Options) (*ControlPlane, error) {
	if opts.AssetsDir == "" {
		return nil, fmt.Errorf("no control-plane binaries: set KUBEBUILDER_ASSETS (make run does, via hack/control-plane.sh)")
	}
	etcdDir := filepath.Join(opts.Dir, "etcd")
	if err := os.MkdirAll(etcdDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating %s: %w", etcdDir, err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: opts.AssetsDir,
		CRDDirectoryPaths:     []string{opts.CRDDir},
		ErrorIfCRDPathMissing: true,
		ControlPlane:          envtest.ControlPlane{Etcd: &envtest.Etcd{DataDir: etcdDir}},
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, fmt.Errorf("starting kube-apiserver and etcd: %w", err)
	}
	path := filepath.Join(opts.Dir, "kubeconfig")
	if err := os.WriteFile(path, env.KubeConfig, 0o600); err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return &ControlPlane{env: env, Config: cfg, KubeconfigPath: path}, nil
}

// Stop ends kube-apiserver and etcd.
func (c *ControlPlane) Stop() error { return c.env.Stop() }
