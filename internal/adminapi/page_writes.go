package adminapi

import (
	"net/http"
	"sync"
	"time"
)

// A page of events is up to a few MiB in memory from the moment it is read until its answer is
// written. A client that asks for pages and never reads the answers would otherwise hold them for
// the server's whole write timeout, as many as it asks for: a tenant could fill the manager's
// memory for every other. So a page's answer is written in a turn, at most
// maxPageWritesPerNamespace at once per namespace and maxPageWrites in all, each within
// pageWriteTimeout; a page read when no turn is free is dropped, and the client told to retry.
const (
	maxPageWrites             = 32
	maxPageWritesPerNamespace = 4
)

// pageWriteTimeout bounds writing one page's answer (a variable for tests).
var pageWriteTimeout = 10 * time.Second

// pageWrites counts the pages being written, in all and per namespace.
type pageWrites struct {
	mu           sync.Mutex
	all          int
	perNamespace map[string]int
}

// start takes a turn for namespace; false when none is free.
func (p *pageWrites) start(namespace string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perNamespace == nil {
		p.perNamespace = map[string]int{}
	}
	if p.all >= maxPageWrites || p.perNamespace[namespace] >= maxPageWritesPerNamespace {
		return false
	}
	p.all++
	p.perNamespace[namespace]++
	return true
}

func (p *pageWrites) done(namespace string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.all--
	if p.perNamespace[namespace]--; p.perNamespace[namespace] <= 0 {
		delete(p.perNamespace, namespace)
	}
}

// writePage writes a page's answer in a turn of namespace's, or answers 429 when none is free.
func (s *Server) writePage(w http.ResponseWriter, namespace string, body any) {
	if !s.pages.start(namespace) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "Too many pages of this namespace are being sent; retry in a second")
		return
	}
	defer s.pages.done(namespace)
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(pageWriteTimeout))
	writeJSON(w, http.StatusOK, body)
}
