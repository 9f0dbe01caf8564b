package ha

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
)

// reads is how many audited reads are sent just before SIGTERM: their audit events are still
// queued (recorded in batches) when the signal arrives.
const reads = 50

// checkSIGTERMDrains sends r a create whose body is only half sent, then SIGTERM, and checks
// what a container runtime relies on: the replica turns unready at once while /healthz stays
// up, the half-sent request completes (201) when its body arrives, the replica exits 0, and the
// reads it answered just before the signal are in the audit log.
func (c *cluster) checkSIGTERMDrains(t *testing.T, r *replica, org, token string) {
	t.Helper()
	reader := newSCIMClient(c, org, token, 1)
	w := newWrites()
	id := reader.create(t.Context(), w, userName("drain", 0), 0)
	if id == "" {
		t.Fatalf("creating the user the reads fetch: %v", w.failed)
	}

	conn, err := (&net.Dialer{}).DialContext(t.Context(), "tcp", r.scim)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	body := fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q}`, userName("drain", 1))
	half := len(body) / 2
	if _, err := fmt.Fprintf(conn, "POST /scim/v2/%s/Users HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n%s", org, r.scim, token, len(body), body[:half]); err != nil {
		t.Fatal(err)
	}
	for range reads {
		if status, b := scimGet(t, r, org, token, "/Users/"+id); status != http.StatusOK {
			t.Fatalf("reading through %s: %d %s", r.name, status, b)
		}
	}
	time.Sleep(200 * time.Millisecond) // the half-sent request has surely reached its handler
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if _, ok := waitFor(10*time.Second, func() bool { s, _ := get(t, "http://"+r.probe+"/readyz"); return s == http.StatusInternalServerError }); !ok {
		t.Error("the replica did not turn unready after SIGTERM while it drained")
	}
	if s, _ := get(t, "http://"+r.probe+"/healthz"); s != http.StatusOK {
		t.Errorf("/healthz answered %d while the replica drained; it is about the process", s)
	}

	if _, err := io.WriteString(conn, body[half:]); err != nil {
		t.Fatalf("the in-flight request's connection was closed: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the in-flight request got no answer: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("the in-flight create answered %d, want 201", resp.StatusCode)
	}
	select {
	case <-r.done:
		if r.exit != nil {
			t.Errorf("%s exited with %v after SIGTERM, want 0", r.name, r.exit)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not exit within a minute of SIGTERM", r.name)
	}
	t.Logf("FIGURE SIGTERM with a request in flight: unready at once, the request answered %d, exit after %s",
		resp.StatusCode, time.Since(sent).Round(100*time.Millisecond))

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := sqlstore.OpenPostgres(ctx, c.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	events, err := st.AuditEvents(ctx, org, store.AuditQuery{ResourceID: id, Limit: 10 * reads})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range events {
		if e.Method == http.MethodGet {
			audited += max(e.Count, 1) // identical reads fold into one event
		}
	}
	if audited != reads {
		t.Errorf("%d of the %d reads answered before SIGTERM are in the audit log", audited, reads)
	}
}
