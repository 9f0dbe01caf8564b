package image

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// SBOM writes an SPDX 2.3 document listing the Go modules compiled into the binary, read from the
// build information the Go toolchain embeds in it: what is in the image, not what go.mod allows.
func SBOM(binary string, o Options, path string) error {
	info, err := buildinfo.ReadFile(binary)
	if err != nil {
		return fmt.Errorf("reading the build information of %s: %w", binary, err)
	}
	type pkg struct {
		SPDXID           string `json:"SPDXID"`
		Name             string `json:"name"`
		VersionInfo      string `json:"versionInfo"`
		DownloadLocation string `json:"downloadLocation"`
		ExternalRefs     []any  `json:"externalRefs,omitempty"`
	}
	purl := func(path, version string) []any {
		return []any{map[string]string{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
			"referenceLocator": "pkg:golang/" + path + "@" + version}}
	}
	id := func(path string) string {
		return "SPDXRef-Package-" + strings.NewReplacer("/", "-", ".", "-", "~", "-").Replace(path)
	}
	main := pkg{SPDXID: id(info.Main.Path), Name: info.Main.Path, VersionInfo: o.Tag, DownloadLocation: o.Source}
	packages := []pkg{main}
	relationships := []map[string]string{{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES", "relatedSpdxElement": main.SPDXID}}
	packages = append(packages, pkg{SPDXID: "SPDXRef-Package-go", Name: "go", VersionInfo: info.GoVersion, DownloadLocation: "NOASSERTION"})
	for _, d := range info.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		packages = append(packages, pkg{SPDXID: id(m.Path), Name: m.Path, VersionInfo: m.Version,
			DownloadLocation: "NOASSERTION", ExternalRefs: purl(m.Path, m.Version)})
		relationships = append(relationships, map[string]string{"spdxElementId": main.SPDXID, "relationshipType": "DEPENDS_ON", "relatedSpdxElement": id(m.Path)})
	}
	doc := map[string]any{
		"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
		"name":              o.Repository + ":" + o.Tag,
		"documentNamespace": o.Source + "/sbom/" + o.Revision,
		"creationInfo": map[string]any{"created": o.Created.UTC().Format(time.RFC3339),
			"creators": []string{"Tool: enterprise-identity-operator/internal/image"}},
		"packages":      packages,
		"relationships": relationships,
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, 0o600)
}
