package localenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// CreateMissing creates every object in the YAML files of dir (kustomization.yaml aside) that does
// not exist yet, Namespaces first. Existing objects are left as they are: local state survives a
// restart, edits included.
func CreateMissing(ctx context.Context, c client.Client, dir string) error {
	objects, err := readObjects(dir)
	if err != nil {
		return err
	}
	sort.SliceStable(objects, func(i, j int) bool {
		return objects[i].GetKind() == "Namespace" && objects[j].GetKind() != "Namespace"
	})
	for _, obj := range objects {
		liftRateLimit(obj)
		if err := c.Create(ctx, obj, client.FieldOwner("make-run")); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// LocalRateLimit is the rate limit `make run` gives the sample organizations that set none: the
// default (100 requests a second) protects a shared installation from one organization's flood,
// but on a developer's machine it would make every load test measure the limiter, not the server.
// Applying the samples with kubectl keeps the default.
const LocalRateLimit = 100000

func liftRateLimit(obj *unstructured.Unstructured) {
	if obj.GetKind() != "ScimIntegration" {
		return
	}
	if _, found, _ := unstructured.NestedMap(obj.Object, "spec", "rateLimit"); found {
		return
	}
	_ = unstructured.SetNestedMap(obj.Object, map[string]any{"requestsPerSecond": int64(LocalRateLimit), "burst": int64(LocalRateLimit)},
		"spec", "rateLimit")
}

func readObjects(dir string) ([]*unstructured.Unstructured, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var objects []*unstructured.Unstructured
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		data, err := os.ReadFile(f) //nolint:gosec // the samples folder is the operator's own flag
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := &unstructured.Unstructured{}
			if err := decoder.Decode(&obj.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("reading %s: %w", f, err)
			}
			if len(obj.Object) == 0 || strings.TrimSpace(obj.GetKind()) == "" {
				continue
			}
			objects = append(objects, obj)
		}
	}
	return objects, nil
}
