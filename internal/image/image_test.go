package image_test

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/z8z8/enterprise-identity-operator/internal/image"
)

// The archive make image writes is read back as a container runtime would: an OCI layout whose
// index names the image, a non-root image with the manager as entrypoint and the OCI labels, and a
// binary that runs. The real manager is built for this machine's platform.
func TestImageArchive(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	build := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", binary, "../../cmd") //nolint:gosec // fixed arguments
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	platform := "linux/" + runtime.GOARCH
	o := image.Options{
		Binaries: map[string]string{platform: binary}, CABundle: caBundle(t), Repository: "ghcr.io/z8z8/enterprise-identity-operator",
		Tag: chartAppVersion(t), Revision: "0123abc", Source: "https://github.com/z8z8/enterprise-identity-operator", Created: time.Unix(1700000000, 0).UTC(),
	}
	index, err := image.Build(o)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := image.WriteArchive(index, o, archive); err != nil {
		t.Fatal(err)
	}

	unpacked := filepath.Join(dir, "layout")
	untar(t, archive, unpacked)
	lp, err := layout.FromPath(unpacked)
	if err != nil {
		t.Fatal(err)
	}
	root, err := lp.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	rootManifest, err := root.IndexManifest()
	if err != nil || len(rootManifest.Manifests) != 1 {
		t.Fatalf("index.json lists %v (%v)", rootManifest, err)
	}
	if got := rootManifest.Manifests[0].Annotations["io.containerd.image.name"]; got != o.Repository+":"+o.Tag {
		t.Fatalf("the archive names the image %q", got)
	}
	inner, err := root.ImageIndex(rootManifest.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := inner.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Platform.String() != platform {
		t.Fatalf("the image index holds %v (%v), want %s", im, err, platform)
	}
	img, err := inner.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != image.User || strings.HasPrefix(cfg.Config.User, "0") {
		t.Fatalf("the image runs as %q", cfg.Config.User)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/manager" {
		t.Fatalf("entrypoint %v", cfg.Config.Entrypoint)
	}
	for k, want := range map[string]string{"org.opencontainers.image.source": o.Source, "org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.version": o.Tag} {
		if cfg.Config.Labels[k] != want {
			t.Fatalf("label %s = %q, want %q", k, cfg.Config.Labels[k], want)
		}
	}

	files := layerFiles(t, img)
	if _, ok := files["bin/sh"]; ok {
		t.Fatal("the image has a shell")
	}
	if _, ok := files["etc/ssl/certs/ca-certificates.crt"]; !ok {
		t.Fatal("the image has no CA bundle: identity providers' HTTPS would fail")
	}
	extracted := filepath.Join(dir, "from-image")
	if err := os.WriteFile(extracted, files["manager"], 0o700); err != nil { //nolint:gosec // an executable we run
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), extracted, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "-external-url") {
		t.Fatalf("the binary in the image does not run: %v\n%s", err, out)
	}

	sbom := filepath.Join(dir, "sbom.json")
	if err := image.SBOM(binary, o, sbom); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		SPDXVersion string `json:"spdxVersion"`
		Packages    []struct {
			Name string `json:"name"`
		} `json:"packages"`
	}
	data, _ := os.ReadFile(sbom) //nolint:gosec // the test's own file
	if err := json.Unmarshal(data, &doc); err != nil || doc.SPDXVersion != "SPDX-2.3" || !hasPackage(doc.Packages, "sigs.k8s.io/controller-runtime") {
		t.Fatalf("the SBOM does not list the compiled modules: %v", err)
	}
}

func hasPackage(pkgs []struct {
	Name string `json:"name"`
}, name string) bool {
	for _, p := range pkgs {
		if p.Name == name {
			return true
		}
	}
	return false
}

func caBundle(t *testing.T) string {
	for _, p := range []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	_ = os.WriteFile(p, []byte("# no system bundle on this machine\n"), 0o600)
	return p
}

func chartAppVersion(t *testing.T) string {
	data, err := os.ReadFile("../../charts/enterprise-identity-operator/Chart.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "appVersion:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("Chart.yaml has no appVersion")
	return ""
}

func untar(t *testing.T, archive, dir string) {
	f, err := os.Open(archive) //nolint:gosec // the test's own file
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.Clean(h.Name)) //nolint:gosec // our own archive
		if h.Typeflag == tar.TypeDir {
			_ = os.MkdirAll(target, 0o750)
			continue
		}
		_ = os.MkdirAll(filepath.Dir(target), 0o750)
		data, _ := io.ReadAll(tr)
		if err := os.WriteFile(target, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func layerFiles(t *testing.T, img v1.Image) map[string][]byte {
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("the image has %d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rc.Close() }()
	files := map[string][]byte{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		files[h.Name] = data
	}
}
