// Command webhook-receiver is an application receiving the Enterprise Identity Operator's events
// (docs/events.md): it verifies each webhook's signature, applies each event once and in sequence
// order per organization, and fills sequence gaps from the Events API.
//
//	WEBHOOK_SIGNING_KEY   the subscription's key, whsec_… (Secret <subscription>-signing-key, key signing-key)
//	ADDR                  where to listen (default :8090); the path is POST /webhooks/identity
//	EVENTS_API_URL        optional, the admin API, e.g. https://eio.example.com/api/v1alpha1, to fill gaps
//	EVENTS_API_TOKEN_FILE a Kubernetes token for it (default: the pod's service account token)
package main

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(log); err != nil {
		log.Error("Receiver stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	key := os.Getenv("WEBHOOK_SIGNING_KEY")
	if !strings.HasPrefix(key, "whsec_") {
		return errors.New("set WEBHOOK_SIGNING_KEY to the subscription's signing key (whsec_…)")
	}
	verifier, err := standardwebhooks.NewWebhook(key) // key: "whsec_…", the Secret's signing-key
	if err != nil {
		return err
	}
	var events *EventsAPI
	if base := os.Getenv("EVENTS_API_URL"); base != "" {
		tokenFile := cmp.Or(os.Getenv("EVENTS_API_TOKEN_FILE"), "/var/run/secrets/kubernetes.io/serviceaccount/token")
		events = &EventsAPI{BaseURL: base, Client: &http.Client{Timeout: 5 * time.Second}, Token: func() (string, error) {
			b, err := os.ReadFile(tokenFile) //nolint:gosec // the path is this program's own configuration
			return strings.TrimSpace(string(b)), err
		}}
	}

	mux := http.NewServeMux()
	mux.Handle("POST /webhooks/identity", NewReceiver(verifier, NewDirectory(log), events, log))
	// Serve HTTPS, or sit behind an Ingress that does: the operator sends plain HTTP only inside the cluster.
	srv := &http.Server{
		Addr: cmp.Or(os.Getenv("ADDR"), ":8090"), Handler: mux,
		ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 15 * time.Second, IdleTimeout: 90 * time.Second,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("Receiving webhooks", "addr", srv.Addr)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// An event cut off here was not acknowledged, so the operator delivers it again.
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// Directory is the application's copy of each organization's members and groups. Yours is a database.
type Directory struct {
	mu      sync.Mutex
	members map[string]map[string]Member // organization → member id → member
	groups  map[string]map[string]Group  // organization → group id → group
	log     *slog.Logger
}

// NewDirectory returns an empty directory.
func NewDirectory(log *slog.Logger) *Directory {
	return &Directory{members: map[string]map[string]Member{}, groups: map[string]map[string]Group{}, log: log}
}

// Apply makes one event true in the directory. It must be idempotent per event (the receiver
// guarantees once, but a real application's crash between change and bookkeeping must not matter).
func (d *Directory) Apply(_ context.Context, ev Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	org, m, g := ev.Organization, ev.Data.Member, ev.Data.Group
	switch {
	case strings.HasPrefix(ev.Type, "member.") && m != nil:
		// A member event carries the whole member as it is now: replace our copy. Only Active
		// members may use the application; for anyone else, end their sessions and tokens now.
		put(d.members, org, m.ID, *m)
		if m.State != "Active" {
			d.log.Info("Access revoked", "organization", org, "member", m.UserName, "state", m.State, "event", ev.Type)
		}
	case (ev.Type == "membership.added" || ev.Type == "membership.removed") && m != nil && g != nil:
		cur, ok := d.members[org][m.ID]
		if !ok {
			return nil // a nested group, or a member we do not hold
		}
		cur.Groups = slices.DeleteFunc(slices.Clone(cur.Groups), func(r GroupRef) bool { return r.ID == g.ID })
		if ev.Type == "membership.added" {
			cur.Groups = append(cur.Groups, GroupRef{ID: g.ID, DisplayName: g.DisplayName})
		}
		put(d.members, org, m.ID, cur)
	case ev.Type == "group.deleted" && g != nil:
		delete(d.groups[org], g.ID)
	case strings.HasPrefix(ev.Type, "group.") && g != nil:
		put(d.groups, org, g.ID, *g)
	default:
		// deprovision.held: nothing changed yet; the member keeps access until an admin releases the
		// hold, and member.suspended or member.deactivated follows. Unknown types: ignore, more may come.
	}
	return nil
}

// Member returns the directory's copy of a member.
func (d *Directory) Member(org, id string) (Member, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[org][id]
	return m, ok
}

func put[V any](m map[string]map[string]V, org, id string, v V) {
	if m[org] == nil {
		m[org] = map[string]V{}
	}
	m[org][id] = v
}
