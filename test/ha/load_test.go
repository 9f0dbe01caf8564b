package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// writes is what a write load ended with.
type writes struct {
	mu sync.Mutex
	// acknowledged maps each userName answered 201 to the id in the answer.
	acknowledged map[string]string
	// unacknowledged lists userNames answered 409 on a retry: an earlier attempt committed the
	// user but its answer was lost with the replica.
	unacknowledged []string
	// failed describes every other outcome: a request that failed.
	failed []string
	// requests counts final answers (reads included in a mixed load).
	requests atomic.Int64
}

func newWrites() *writes { return &writes{acknowledged: map[string]string{}} }

func (w *writes) fail(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failed = append(w.failed, fmt.Sprintf(format, args...))
}

// userName is the i-th user of a load.
func userName(prefix string, i int) string { return fmt.Sprintf("%s-%06d@ha.example", prefix, i) }

// create provisions one user, starting at replica first, and records the outcome; it returns the
// id when the create was acknowledged.
func (c *scimClient) create(ctx context.Context, w *writes, name string, first int) string {
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true,`+
		`"name":{"givenName":"Ha","familyName":"Load"}}`, name)
	a, err := c.do(ctx, http.MethodPost, "/Users", []byte(body), first)
	if err != nil {
		if ctx.Err() == nil {
			w.fail("POST %s: %v", name, err)
		}
		return ""
	}
	w.requests.Add(1)
	switch {
	case a.status == http.StatusCreated:
		var u struct{ ID string }
		if err := json.Unmarshal(a.body, &u); err != nil || u.ID == "" {
			w.fail("POST %s: 201 without an id: %s", name, a.body)
			return ""
		}
		w.mu.Lock()
		w.acknowledged[name] = u.ID
		w.mu.Unlock()
		return u.ID
	case a.status == http.StatusConflict && a.retried:
		w.mu.Lock()
		w.unacknowledged = append(w.unacknowledged, name)
		w.mu.Unlock()
	default:
		w.fail("POST %s: %d %s", name, a.status, truncate(a.body))
	}
	return ""
}

// createUsers creates n users named by prefix from workers concurrent clients, each request to
// the next replica in turn; done counts the users finished, so a test can act mid-load.
func (c *scimClient) createUsers(ctx context.Context, prefix string, n, workers int, done *atomic.Int64) *writes {
	w := newWrites()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				c.create(ctx, w, userName(prefix, i), i)
				done.Add(1)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return w
}

// churn runs until stop closes: each worker creates a user, reads it back by id and finds it by
// userName, every request to the next replica in turn. Every answer must be the expected one.
func (c *scimClient) churn(ctx context.Context, prefix string, workers int, stop <-chan struct{}) *writes {
	w := newWrites()
	var seq atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				i := int(seq.Add(1))
				name := userName(prefix, i)
				id := c.create(ctx, w, name, i)
				if id == "" {
					continue
				}
				c.expect(ctx, w, "/Users/"+id, i+1, `"id":"`+id+`"`)
				c.expect(ctx, w, "/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), i+2, `"totalResults":1`)
			}
		})
	}
	wg.Wait()
	return w
}

// expect sends a GET that must answer 200 with a body containing want.
func (c *scimClient) expect(ctx context.Context, w *writes, path string, first int, want string) {
	a, err := c.do(ctx, http.MethodGet, path, nil, first)
	if err != nil {
		if ctx.Err() == nil {
			w.fail("GET %s: %v", path, err)
		}
		return
	}
	w.requests.Add(1)
	if a.status != http.StatusOK || !strings.Contains(string(a.body), want) {
		w.fail("GET %s: %d %s", path, a.status, truncate(a.body))
	}
}

// storedUsers lists the organization's users through one replica: lowercased userName → ids.
func storedUsers(t *testing.T, r *replica, org, token string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for start, total := 1, 1; start <= total; {
		status, body := scimGet(t, r, org, token, fmt.Sprintf("/Users?startIndex=%d&count=1000&attributes=userName", start))
		if status != http.StatusOK {
			t.Fatalf("listing users through %s: %d %s", r.name, status, truncate([]byte(body)))
		}
		var page struct {
			TotalResults int
			Resources    []struct{ ID, UserName string }
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Resources) == 0 {
			break
		}
		for _, u := range page.Resources {
			key := strings.ToLower(u.UserName)
			out[key] = append(out[key], u.ID)
		}
		start, total = start+len(page.Resources), page.TotalResults
	}
	return out
}

// checkStored fails the test when an acknowledged or retried-into-conflict user is missing, or
// when any userName of the load is stored more than once. It returns how many users of the load
// are stored.
func checkStored(t *testing.T, w *writes, stored map[string][]string, prefix string) int {
	t.Helper()
	for name, id := range w.acknowledged {
		ids := stored[strings.ToLower(name)]
		if len(ids) == 0 || ids[0] != id {
			t.Errorf("acknowledged user %s (id %s) is not stored as such: %v", name, id, ids)
		}
	}
	for _, name := range w.unacknowledged {
		if len(stored[strings.ToLower(name)]) == 0 {
			t.Errorf("user %s answered 409 on a retry, yet is not stored", name)
		}
	}
	count := 0
	for name, ids := range stored {
		if !strings.HasPrefix(name, prefix+"-") {
			continue
		}
		count++
		if len(ids) > 1 {
			t.Errorf("userName %s is stored %d times: %v", name, len(ids), ids)
		}
	}
	return count
}

// truncate keeps an answer short in a failure message.
func truncate(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// waitFor polls cond every 100 ms until it holds or timeout passes; it returns how long it took.
func waitFor(timeout time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < timeout {
		if cond() {
			return time.Since(start), true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return time.Since(start), cond()
}
