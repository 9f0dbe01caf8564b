package events

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/outbound"
)

// A receiver's answer with megabytes of headers fails the send (read no further than 64 KiB),
// rather than costing the leader that memory; ordinary headers are read.
func TestAReceiversHugeHeadersFailTheSend(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	padding := strings.Repeat("x", 1000)
	var headers atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for i := range headers.Load() {
			w.Header().Set(fmt.Sprint("X-Padding-", i), padding)
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	key, _ := NewSigningKey()
	d := &Deliverer{Store: st, HTTP: NewWebhookClient(outbound.Loopback())}
	j := pairOf("acme", "hr", srv.URL, key)
	if _, err := d.deliver(ctx, j); err != nil { // starts the subscription: no events yet
		t.Fatal(err)
	}
	createUser(t, st, "acme", "u1", []byte(`{}`))
	headers.Store(1000) // about 1 MB
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{})
	if state.DeliveredSeq != 0 || state.LastError != "connection failed" {
		t.Fatalf("an answer with 1 MB of headers: %+v, want a failed send", state)
	}
	// 20 kB of headers, past the backoff.
	headers.Store(20)
	d.Now = func() time.Time { return time.Now().Add(time.Hour) }
	if _, err := d.deliver(ctx, j); err != nil {
		t.Fatal(err)
	}
	if state, _ := st.Delivery(ctx, string(j.sub.UID), "acme", time.Time{}); state.DeliveredSeq != 1 {
		t.Fatalf("an answer with 20 kB of headers: %+v, want delivered", state)
	}
}
