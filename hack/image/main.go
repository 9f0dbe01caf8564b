// Command image writes the manager's OCI image archive and its SBOM (make image); see
// internal/image.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/image"
)

func main() {
	var (
		o         image.Options
		binaries  string
		out, sbom string
		created   string
	)
	flag.StringVar(&binaries, "binaries", "", "Comma-separated platform=path pairs, e.g. linux/amd64=bin/linux_amd64/manager.")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM bundle of trusted certificate authorities.")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/z8z8/enterprise-identity-operator", "Image repository.")
	flag.StringVar(&o.Tag, "tag", "", "Image tag (the chart's appVersion).")
	flag.StringVar(&o.Revision, "revision", "", "Source revision (git commit).")
	flag.StringVar(&o.Source, "source", "https://github.com/z8z8/enterprise-identity-operator", "Source repository URL.")
	flag.StringVar(&created, "created", "", "Creation time as Unix seconds (the commit time); empty: now.")
	flag.StringVar(&out, "out", "bin/image.tar", "OCI archive to write.")
	flag.StringVar(&sbom, "sbom", "bin/image.spdx.json", "SPDX SBOM to write.")
	flag.Parse()
	if err := run(o, binaries, created, out, sbom); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(o image.Options, binaries, created, out, sbom string) error {
	o.Binaries = map[string]string{}
	first := ""
	for _, pair := range strings.Split(binaries, ",") {
		platform, path, ok := strings.Cut(pair, "=")
		if !ok {
			return fmt.Errorf("-binaries: %q is not platform=path", pair)
		}
		o.Binaries[platform] = path
		if first == "" {
			first = path
		}
	}
	o.Created = time.Now().UTC().Truncate(time.Second)
	if created != "" {
		secs, err := strconv.ParseInt(created, 10, 64)
		if err != nil {
			return fmt.Errorf("-created: %w", err)
		}
		o.Created = time.Unix(secs, 0).UTC()
	}
	index, err := image.Build(o)
	if err != nil {
		return err
	}
	if err := image.WriteArchive(index, o, out); err != nil {
		return err
	}
	digest, err := index.Digest()
	if err != nil {
		return err
	}
	if err := image.SBOM(first, o, sbom); err != nil {
		return err
	}
	fmt.Printf("Wrote %s (%s:%s, index %s) and %s\n", out, o.Repository, o.Tag, digest, sbom)
	return nil
}
