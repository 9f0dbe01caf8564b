// Package image builds the manager's OCI image without a container daemon: one layer holding the
// static binary and the CA bundle it needs for identity providers' HTTPS, on an empty base, run
// as a non-root user. go-containerregistry writes the manifests, the index and the OCI layout;
// nothing is pulled, so it builds where only the Go module proxy is reachable.
package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// User is the image's numeric user and group: not root, and the "nonroot" of distroless images,
// so volumes prepared for those fit.
const User = "65532:65532"

// Entrypoint is where the binary lives in the image.
const Entrypoint = "/manager"

// Options say what to build.
type Options struct {
	// Binaries maps a platform ("linux/amd64") to the static manager binary built for it.
	Binaries map[string]string
	// CABundle is the PEM file of trusted certificate authorities copied into the image.
	CABundle string
	// Repository and Tag name the image, e.g. ghcr.io/z8z8/enterprise-identity-operator and v0.1.0.
	Repository, Tag string
	// Revision is the source revision (git commit); Source is the repository URL.
	Revision, Source string
	// Created is the image's creation time (the commit's time keeps builds reproducible).
	Created time.Time
}

// Build returns the multi-platform image index.
func Build(o Options) (v1.ImageIndex, error) {
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("reading the CA bundle: %w", err)
	}
	platforms := make([]string, 0, len(o.Binaries))
	for p := range o.Binaries {
		platforms = append(platforms, p)
	}
	sort.Strings(platforms)
	index := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, platform, err := platformImage(o, p, o.Binaries[p], ca)
		if err != nil {
			return nil, err
		}
		index = mutate.AppendManifests(index, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
	}
	return index, nil
}

func platformImage(o Options, platform, binary string, ca []byte) (v1.Image, *v1.Platform, error) {
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		return nil, nil, fmt.Errorf("platform %q: %w", platform, err)
	}
	bin, err := os.ReadFile(binary) //nolint:gosec // the build's own output
	if err != nil {
		return nil, nil, fmt.Errorf("reading the %s binary: %w", platform, err)
	}
	layerTar, err := rootFS(o.Created, bin, ca)
	if err != nil {
		return nil, nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerTar)), nil },
		tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, nil, err
	}
	img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Variant = p.OS, p.Architecture, p.Variant
	cfg.Created = v1.Time{Time: o.Created}
	cfg.Config.User = User
	cfg.Config.Entrypoint = []string{Entrypoint}
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Config.Labels = Labels(o)
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, nil, err
	}
	return img, p, nil
}

// Labels are the OCI annotations the image carries.
func Labels(o Options) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":    "enterprise-identity-operator",
		"org.opencontainers.image.source":   o.Source,
		"org.opencontainers.image.revision": o.Revision,
		"org.opencontainers.image.version":  o.Tag,
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.created":  o.Created.UTC().Format(time.RFC3339),
	}
}

// rootFS is the layer: the binary and the CA bundle, owned by root, readable by the user.
func rootFS(created time.Time, binary, ca []byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"etc/", "etc/ssl/", "etc/ssl/certs/", "tmp/"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: created}); err != nil {
			return nil, err
		}
	}
	files := []struct {
		name string
		mode int64
		data []byte
	}{{Entrypoint[1:], 0o755, binary}, {"etc/ssl/certs/ca-certificates.crt", 0o644, ca}}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: created}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteArchive writes the index as an OCI image layout in a tar file, named Repository:Tag, which
// `docker load` (Docker 25 and later), `ctr images import` and `skopeo copy oci-archive:` accept.
func WriteArchive(index v1.ImageIndex, o Options, path string) error {
	dir, err := os.MkdirTemp("", "eio-image-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	ref := o.Repository + ":" + o.Tag
	if err := lp.AppendIndex(index, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": o.Tag,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return err
	}
	return tarDir(dir, path, o.Created)
}

// tarDir archives a directory with sorted names and fixed times, so equal inputs give equal bytes.
func tarDir(dir, path string, modTime time.Time) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	out, err := os.Create(path) //nolint:gosec // the build's own output
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: filepath.ToSlash(rel) + "/", Mode: 0o755, ModTime: modTime})
		}
		data, err := os.ReadFile(p) //nolint:gosec // inside our temporary layout
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), ModTime: modTime}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if cerr := tw.Close(); err == nil {
		err = cerr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return err
}
