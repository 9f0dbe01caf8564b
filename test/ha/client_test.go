package ha

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// scimClient is an identity provider in front of the replicas: it spreads requests over them and
// retries a request on the next replica only when it got no answer (connection refused, reset or
// closed), as an identity provider behind a load balancer sees a replica that went away. Any
// answer, whatever its status, is final.
type scimClient struct {
	org, token string
	replicas   []*replica
	http       *http.Client
	// connErrors counts attempts that got no answer.
	connErrors atomic.Int64
}

func newSCIMClient(c *cluster, org, token string, workers int) *scimClient {
	return &scimClient{org: org, token: token, replicas: c.replicas, http: &http.Client{
		Timeout:   time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: workers, IdleConnTimeout: 30 * time.Second},
	}}
}

// answer is the final answer to a request; retried says an earlier attempt got none.
type answer struct {
	status  int
	body    []byte
	retried bool
}

// do sends the request to replica first, then to the next ones while no answer comes, for up to
// two minutes (a rolling restart or a failover takes seconds).
func (c *scimClient) do(ctx context.Context, method, path string, body []byte, first int) (answer, error) {
	var a answer
	deadline := time.Now().Add(2 * time.Minute)
	for attempt := 0; ; attempt++ {
		r := c.replicas[(first+attempt)%len(c.replicas)]
		req, err := http.NewRequestWithContext(ctx, method, "http://"+r.scim+"/scim/v2/"+c.org+path, bytes.NewReader(body))
		if err != nil {
			return a, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		if body != nil {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		resp, err := c.http.Do(req)
		if err == nil {
			a.status = resp.StatusCode
			a.body, err = io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err == nil {
				return a, nil
			}
		}
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		c.connErrors.Add(1)
		a.retried = true
		if time.Now().After(deadline) {
			return a, fmt.Errorf("no replica answered %s %s within two minutes: %w", method, path, err)
		}
		// The next replica at once; a short pause once every replica has been tried.
		if (attempt+1)%len(c.replicas) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// scimGet sends one GET to one replica, without retrying.
func scimGet(t *testing.T, r *replica, org, token, path string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.scim+"/scim/v2/"+org+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}
