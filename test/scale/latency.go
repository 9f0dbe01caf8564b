package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/z8z8/enterprise-identity-operator/api/v1alpha1"
)

// latencies is what the SCIM requests measured: percentiles and how many failed.
type latencies struct {
	requests, failed int64
	p50, p99         time.Duration
	perSecond        float64
}

// scimLatency sends the identity providers' most common request (a userName lookup) to random
// organizations among all those served, from concurrent clients, for d.
func scimLatency(ctx context.Context, c client.Client, base string, orgs []organization, concurrency int, d time.Duration) (latencies, error) {
	tokens := make([]string, len(orgs))
	err := parallel(16, len(orgs), func(i int) error {
		s := &corev1.Secret{}
		key := types.NamespacedName{Namespace: orgs[i].namespace, Name: v1alpha1.TokenSecretName(orgs[i].name)}
		if err := c.Get(ctx, key, s); err != nil {
			return fmt.Errorf("reading token Secret %s: %w", key, err)
		}
		tokens[i] = string(s.Data[v1alpha1.SecretKeyToken])
		return nil
	})
	if err != nil {
		return latencies{}, err
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}}
	filter := url.QueryEscape(`userName eq "nobody@example.com"`)
	var (
		mu      sync.Mutex
		all     []time.Duration
		failed  atomic.Int64
		wg      sync.WaitGroup
		started = time.Now()
	)
	deadline := started.Add(d)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for time.Now().Before(deadline) {
				i := rand.IntN(len(orgs)) //nolint:gosec // picking an organization, not a secret
				t0 := time.Now()
				if err := get(ctx, httpc, base+"/scim/v2/"+orgs[i].name+"/Users?filter="+filter, tokens[i]); err != nil {
					failed.Add(1)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(started)
	if len(all) == 0 {
		return latencies{failed: failed.Load()}, fmt.Errorf("no SCIM request succeeded (%d failed)", failed.Load())
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return latencies{
		requests:  int64(len(all)),
		failed:    failed.Load(),
		p50:       all[len(all)/2],
		p99:       all[len(all)*99/100],
		perSecond: float64(len(all)) / elapsed.Seconds(),
	}, nil
}

func get(ctx context.Context, c *http.Client, u, token string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}
