package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// writeWatch counts the changes the API server reports for the kinds the operator writes. A
// watch sees every write that changed an object; a no-op PATCH is not seen here but is counted
// by mutatingRequests.
type writeWatch struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	counts map[string]*atomic.Int64
}

func watchWrites(ctx context.Context, c client.WithWatch) (*writeWatch, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &writeWatch{cancel: cancel, counts: map[string]*atomic.Int64{}}
	kinds := map[string]client.ObjectList{
		"EnterpriseIdentity": &v1alpha1.EnterpriseIdentityList{},
		"ScimIntegration":    &v1alpha1.ScimIntegrationList{},
		"OrganizationClaim":  &v1alpha1.OrganizationClaimList{},
		"Secret":             &corev1.SecretList{},
		"Event":              &eventsv1.EventList{},
	}
	for kind, list := range kinds {
		// Listing first and watching from its resourceVersion sees only what happens from now.
		if err := c.List(ctx, list); err != nil {
			cancel()
			return nil, fmt.Errorf("listing %s: %w", kind, err)
		}
		rv := list.(metav1.ListInterface).GetResourceVersion()
		watch, err := c.Watch(ctx, list, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: rv}})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("watching %s: %w", kind, err)
		}
		n := &atomic.Int64{}
		w.counts[kind] = n
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer watch.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case _, ok := <-watch.ResultChan():
					if !ok {
						return
					}
					n.Add(1)
				}
			}
		}()
	}
	return w, nil
}

// stop ends the watches and returns the changes seen per kind.
func (w *writeWatch) stop() map[string]int64 {
	w.cancel()
	w.wg.Wait()
	out := map[string]int64{}
	for kind, n := range w.counts {
		out[kind] = n.Load()
	}
	return out
}

// mutatingRequests reads kube-apiserver's apiserver_request_total and sums the POST, PUT, PATCH
// and DELETE requests per resource (with its subresource, as "enterpriseidentities/status").
func mutatingRequests(ctx context.Context, cs kubernetes.Interface) (map[string]float64, error) {
	body, err := cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading kube-apiserver metrics: %w", err)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "apiserver_request_total{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			continue
		}
		l := parseLabels(labels)
		switch l["verb"] {
		case "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		key := l["resource"]
		if l["subresource"] != "" {
			key += "/" + l["subresource"]
		}
		out[key] += v
	}
	return out, sc.Err()
}

func parseLabels(s string) map[string]string {
	out := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if k, v, ok := strings.Cut(pair, "="); ok {
			out[k] = strings.Trim(v, `"`)
		}
	}
	return out
}

// delta is after − before, largest first, dropping resources that did not move.
func delta(before, after map[string]float64) []string {
	type kv struct {
		k string
		v float64
	}
	var moved []kv
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			moved = append(moved, kv{k, d})
		}
	}
	sort.Slice(moved, func(i, j int) bool { return moved[i].v > moved[j].v })
	out := make([]string, 0, len(moved))
	for _, m := range moved {
		out = append(out, fmt.Sprintf("%s %.0f", m.k, m.v))
	}
	return out
}
