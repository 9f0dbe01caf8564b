package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// recorder is an application that remembers what it applied, in order.
type recorder struct {
	mu      sync.Mutex
	applied []Event
}

func (r *recorder) Apply(_ context.Context, ev Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.applied = append(r.applied, ev)
	return nil
}

func (r *recorder) sequences(org string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var s []int64
	for _, ev := range r.applied {
		if ev.Organization == org {
			s = append(s, ev.Sequence)
		}
	}
	return s
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func event(org string, seq int64) Event {
	return Event{
		ID: fmt.Sprintf("evt_%s_%d", org, seq), Type: "member.updated", Organization: org, Sequence: seq,
		Time:  time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC),
		Actor: Actor{Type: "identityProvider", TokenFingerprint: "4656ee4f83eb"},
		Data:  EventData{Member: &Member{ID: fmt.Sprintf("m%d", seq), UserName: fmt.Sprintf("user%d@acme.example", seq), State: "Active"}},
	}
}

// startReceiver serves the receiver over HTTP on loopback, routed as main routes it.
func startReceiver(t *testing.T, key string, app Applier, events *EventsAPI) string {
	t.Helper()
	verifier, err := standardwebhooks.NewWebhook(key)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, NewReceiver(verifier, app, events, slog.New(slog.DiscardHandler)))
}

func serve(t *testing.T, rc *Receiver) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/identity", rc)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/webhooks/identity"
}

// delivery is one webhook request as the operator sends it.
type delivery struct {
	id   string    // webhook-id: the event id
	ts   time.Time // webhook-timestamp: when this attempt was signed
	body []byte    // the event JSON
	key  string    // signs the request
	send []byte    // sent instead of body when set (tampering)
}

func deliveryOf(t *testing.T, key string, ev Event) delivery {
	t.Helper()
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return delivery{id: ev.ID, ts: time.Now(), body: body, key: key}
}

// post signs d with the library's own Sign, exactly as the operator does, and sends it.
func post(t *testing.T, url string, d delivery) int {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(d.key)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := wh.Sign(d.id, d.ts, d.body)
	if err != nil {
		t.Fatal(err)
	}
	body := d.body
	if d.send != nil {
		body = d.send
	}
	return send(t, url, d.id, strconv.FormatInt(d.ts.Unix(), 10), sig, body)
}

func send(t *testing.T, url, id, ts, sig string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", ts)
	req.Header.Set("webhook-signature", sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func is2xx(code int) bool { return code >= 200 && code < 300 }

func TestValidEventIsAccepted(t *testing.T) {
	key, app := newKey(t), &recorder{}
	url := startReceiver(t, key, app, nil)
	if code := post(t, url, deliveryOf(t, key, event("acme", 1))); !is2xx(code) {
		t.Fatalf("a valid event was answered %d", code)
	}
	if got := app.sequences("acme"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("applied %v, want [1]", got)
	}
}

// The signature scheme written out by hand, so the operator's signer can be checked against it
// without the library: v1,base64(HMAC-SHA256(key, "<id>.<unix seconds>.<body>")).
func TestHandSignedEventIsAccepted(t *testing.T) {
	key, app := newKey(t), &recorder{}
	url := startReceiver(t, key, app, nil)
	raw, err := base64.StdEncoding.DecodeString(key[len("whsec_"):])
	if err != nil {
		t.Fatal(err)
	}
	d := deliveryOf(t, key, event("acme", 1))
	ts := strconv.FormatInt(d.ts.Unix(), 10)
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte(d.id + "." + ts + "." + string(d.body)))
	sig := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if code := send(t, url, d.id, ts, sig, d.body); !is2xx(code) {
		t.Fatalf("a hand-signed event was answered %d", code)
	}
	// Several signatures, space-separated (a key rotation): any one that matches is enough.
	d2 := deliveryOf(t, key, event("acme", 2))
	wh, _ := standardwebhooks.NewWebhook(key)
	good, _ := wh.Sign(d2.id, d2.ts, d2.body)
	if code := send(t, url, d2.id, strconv.FormatInt(d2.ts.Unix(), 10), "v1,bm90IGl0 "+good, d2.body); !is2xx(code) {
		t.Fatalf("an event with the old and the new key's signatures was answered %d", code)
	}
}

func TestForgedOrStaleEventsAreRefused(t *testing.T) {
	key := newKey(t)
	other := event("acme", 1)
	other.ID = "evt_other"
	otherBody, _ := json.Marshal(other)
	for _, tc := range []struct {
		name   string
		change func(*delivery)
	}{
		{"a tampered body", func(d *delivery) { d.send = bytes.Replace(d.body, []byte(`"Active"`), []byte(`"Suspended"`), 1) }},
		{"another key", func(d *delivery) { d.key = newKey(t) }},
		{"a timestamp 10 minutes old (a replayed capture)", func(d *delivery) { d.ts = time.Now().Add(-10 * time.Minute) }},
		{"a timestamp 10 minutes ahead", func(d *delivery) { d.ts = time.Now().Add(10 * time.Minute) }},
		{"a webhook-id other than the event's id", func(d *delivery) { d.body = otherBody }},
		{"an unparseable body", func(d *delivery) { d.body = []byte(`not json`) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			app := &recorder{}
			url := startReceiver(t, key, app, nil)
			d := deliveryOf(t, key, event("acme", 1))
			tc.change(&d)
			if code := post(t, url, d); code < 400 || code >= 500 {
				t.Fatalf("answered %d, want 4xx", code)
			}
			if got := app.sequences("acme"); len(got) != 0 {
				t.Fatalf("applied %v", got)
			}
		})
	}
	t.Run("no signature headers", func(t *testing.T) {
		app := &recorder{}
		url := startReceiver(t, key, app, nil)
		if code := send(t, url, "", "", "", []byte(`{}`)); code != http.StatusUnauthorized {
			t.Fatalf("answered %d, want 401", code)
		}
	})
}

func TestDuplicateIsAcknowledgedAndAppliedOnce(t *testing.T) {
	key, app := newKey(t), &recorder{}
	url := startReceiver(t, key, app, nil)
	ev := event("acme", 1)
	for range 3 {
		// A retry: same id and body, signed anew with the time of the attempt.
		if code := post(t, url, deliveryOf(t, key, ev)); !is2xx(code) {
			t.Fatalf("a redelivery was answered %d; the operator would retry it until it is dead-lettered", code)
		}
	}
	if got := app.sequences("acme"); !slices.Equal(got, []int64{1}) {
		t.Fatalf("applied %v, want [1] once", got)
	}
}

// The id set is bounded; a duplicate it has forgotten is still caught by its sequence.
func TestForgottenDuplicateIsNotAppliedAgain(t *testing.T) {
	key, app := newKey(t), &recorder{}
	verifier, _ := standardwebhooks.NewWebhook(key)
	rc := NewReceiver(verifier, app, nil, slog.New(slog.DiscardHandler))
	rc.seen = newSeenIDs(2)
	url := serve(t, rc)
	for _, seq := range []int64{1, 2, 3, 1} {
		if code := post(t, url, deliveryOf(t, key, event("acme", seq))); !is2xx(code) {
			t.Fatalf("event %d: %d", seq, code)
		}
	}
	if rc.seen.has("evt_acme_1") || !rc.seen.has("evt_acme_3") {
		t.Fatal("the id set does not keep the latest ids only")
	}
	if got := app.sequences("acme"); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("applied %v, want [1 2 3]", got)
	}
}

// eventsAPI serves GET …/organizations/{org}/events?after=&limit= from a fixed stream.
type eventsAPI struct {
	mu     sync.Mutex
	stream map[string][]Event
	fail   bool
	calls  []string
}

func (a *eventsAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, r.URL.RequestURI())
	if a.fail || r.Header.Get("Authorization") != "Bearer k8s-token" {
		http.Error(w, `{"error":"no"}`, http.StatusInternalServerError)
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	page := struct {
		Items []Event `json:"items"`
		Next  string  `json:"next"`
	}{Items: []Event{}, Next: strconv.FormatInt(after, 10)}
	for _, ev := range a.stream[r.PathValue("org")] {
		if ev.Sequence > after && len(page.Items) < limit {
			page.Items = append(page.Items, ev)
			page.Next = strconv.FormatInt(ev.Sequence, 10)
		}
	}
	_ = json.NewEncoder(w).Encode(page)
}

func startEventsAPI(t *testing.T, api *eventsAPI) *EventsAPI {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /api/v1alpha1/organizations/{org}/events", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &EventsAPI{BaseURL: srv.URL + "/api/v1alpha1", Client: srv.Client(), Token: func() (string, error) { return "k8s-token", nil }}
}

func TestEventsApplyInSequenceOrderAndGapsAreFilled(t *testing.T) {
	key, app := newKey(t), &recorder{}
	var stream []Event
	for i := int64(1); i <= 6; i++ {
		stream = append(stream, event("acme", i))
	}
	api := &eventsAPI{stream: map[string][]Event{"acme": stream}}
	url := startReceiver(t, key, app, startEventsAPI(t, api))
	deliver := func(seq int64) int { return post(t, url, deliveryOf(t, key, stream[seq-1])) }

	if code := deliver(1); !is2xx(code) {
		t.Fatalf("event 1: %d", code)
	}
	// 2 and 3 never came (filtered out by types, or dead-lettered): read them from the Events API first.
	if code := deliver(4); !is2xx(code) {
		t.Fatalf("event 4 after a gap: %d", code)
	}
	if !slices.Contains(api.calls, "/api/v1alpha1/organizations/acme/events?after=1&limit=2") {
		t.Fatalf("the gap was not read from the Events API: %v", api.calls)
	}
	// A dead letter replayed late, and a redelivery: acknowledged, not applied again.
	if code := deliver(3); !is2xx(code) {
		t.Fatalf("replayed event 3: %d", code)
	}
	if code := deliver(4); !is2xx(code) {
		t.Fatalf("redelivered event 4: %d", code)
	}

	// The Events API is down: event 6 is refused (the operator retries it), nothing jumps ahead.
	api.mu.Lock()
	api.fail = true
	api.mu.Unlock()
	if code := deliver(6); code != http.StatusServiceUnavailable {
		t.Fatalf("event 6 with an unfillable gap: %d, want 503", code)
	}
	api.mu.Lock()
	api.fail = false
	api.mu.Unlock()
	if code := deliver(6); !is2xx(code) {
		t.Fatalf("event 6 retried: %d", code)
	}
	if got := app.sequences("acme"); !slices.Equal(got, []int64{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("applied %v, want 1…6 once each, in order", got)
	}

	// Organizations are independent streams; a receiver starts where its first event is.
	if code := post(t, url, deliveryOf(t, key, event("globex", 7))); !is2xx(code) {
		t.Fatalf("globex 7: %d", code)
	}
	if got := app.sequences("globex"); !slices.Equal(got, []int64{7}) {
		t.Fatalf("globex applied %v, want [7]", got)
	}
}

func TestDirectoryFollowsMembers(t *testing.T) {
	key := newKey(t)
	dir := NewDirectory(slog.New(slog.DiscardHandler))
	url := startReceiver(t, key, dir, nil)
	provisioned := event("acme", 1)
	provisioned.Type = "member.provisioned"
	suspended := event("acme", 2)
	suspended.Type, suspended.Data.Member = "member.suspended", &Member{ID: "m1", UserName: "user1@acme.example", State: "Suspended"}
	added := event("acme", 3)
	added.Type = "membership.added"
	added.Data = EventData{Group: &Group{ID: "g1", DisplayName: "Engineering"}, Member: &Member{ID: "m1"}}
	for _, ev := range []Event{provisioned, suspended, added} {
		if code := post(t, url, deliveryOf(t, key, ev)); !is2xx(code) {
			t.Fatalf("%s: %d", ev.Type, code)
		}
	}
	m, ok := dir.Member("acme", "m1")
	if !ok || m.State != "Suspended" || len(m.Groups) != 1 || m.Groups[0].ID != "g1" {
		t.Fatalf("member m1 is %+v (found %v), want Suspended in group g1", m, ok)
	}
}

// The payloads in docs/events.md are what this receiver reads: every field known, none missing.
func TestDocumentedPayloadsDecode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllSubmatch(doc, -1)
	types := map[string]bool{}
	for _, b := range blocks {
		dec := json.NewDecoder(bytes.NewReader(b[1]))
		dec.DisallowUnknownFields()
		var evs []Event
		if bytes.Contains(b[1], []byte(`"items"`)) {
			var page struct {
				Items []Event `json:"items"`
				Next  string  `json:"next"`
			}
			err = dec.Decode(&page)
			evs = page.Items
		} else {
			var ev Event
			err = dec.Decode(&ev)
			evs = []Event{ev}
		}
		if err != nil {
			t.Fatalf("docs/events.md: %v in\n%s", err, b[1])
		}
		for _, ev := range evs {
			if ev.ID == "" || ev.Type == "" || ev.Organization == "" || ev.Sequence < 1 || ev.Time.IsZero() || ev.Actor.Type == "" {
				t.Errorf("docs/events.md: incomplete event %s", ev.ID)
			}
			types[ev.Type] = true
		}
	}
	for _, want := range []string{"member.provisioned", "member.suspended", "member.role_changed", "membership.added", "group.created", "deprovision.held"} {
		if !types[want] {
			t.Errorf("docs/events.md has no example of %s", want)
		}
	}
}
