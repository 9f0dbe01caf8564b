package adminapi

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Pages of events are written in turns: a namespace holds at most maxPageWritesPerNamespace, all
// namespaces maxPageWrites; a page with no turn free is answered 429 with Retry-After, and other
// namespaces keep theirs.
func TestPageWritesTakeTurns(t *testing.T) {
	s := &Server{}
	for range maxPageWritesPerNamespace {
		if !s.pages.start("greedy") {
			t.Fatal("a namespace was refused a turn within its share")
		}
	}
	refused := httptest.NewRecorder()
	s.writePage(refused, "greedy", map[string]any{"items": []any{}})
	if refused.Code != http.StatusTooManyRequests || refused.Header().Get("Retry-After") == "" {
		t.Fatalf("a page past the namespace's share: %d %q", refused.Code, refused.Header().Get("Retry-After"))
	}
	served := httptest.NewRecorder()
	s.writePage(served, "other", map[string]any{"items": []any{}})
	if served.Code != http.StatusOK || !strings.Contains(served.Body.String(), `"items"`) {
		t.Fatalf("another namespace's page: %d %s", served.Code, served.Body.String())
	}
	for i := range maxPageWrites - maxPageWritesPerNamespace {
		if !s.pages.start("ns-" + string(rune('a'+i%26)) + string(rune('a'+i/26))) {
			t.Fatalf("refused turn %d within the whole", i)
		}
	}
	if s.pages.start("yet-another") {
		t.Fatal("a turn past the whole was given")
	}
	s.pages.done("greedy")
	if !s.pages.start("greedy") {
		t.Fatal("a turn given back was not given again")
	}
}

// A client that asks for a page and never reads the answer holds its turn (and the page's
// memory) only until the write's deadline, not for the server's whole write timeout.
func TestAPageNobodyReadsGivesItsTurnBack(t *testing.T) {
	defer func(d time.Duration) { pageWriteTimeout = d }(pageWriteTimeout)
	pageWriteTimeout = 200 * time.Millisecond
	s := &Server{}
	big := strings.Repeat("x", 16<<20) // more than the sockets' buffers hold
	returned := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		defer close(returned)
		s.writePage(w, "slow", map[string]any{"items": []string{big}})
	}))
	defer srv.Close()
	conn, err := (&net.Dialer{}).DialContext(context.Background(), "tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	if _, err := conn.Write([]byte("GET /events HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	select { // never reading: the write stops at its deadline
	case <-returned:
	case <-time.After(time.Minute):
		t.Fatal("the page's write waited on a client that never reads")
	}
	if !s.pages.start("slow") {
		t.Fatal("the turn was not given back")
	}
}
