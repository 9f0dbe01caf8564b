// Package dataplane runs the HTTP server every replica serves: the SCIM endpoint (and, as they
// arrive, the admin API and the setup wizard).
package dataplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
)

// Server is a controller-runtime Runnable that serves Handler on Address.
type Server struct {
	Address  string
	Handler  http.Handler
	Registry *tenant.Registry
	// Drained runs once the server has stopped taking requests, before Start returns: the SCIM
	// server records its queued audit events there, while the store is still open.
	Drained func()
	// Prime runs before the server listens: it loads what requests need (the organizations), so
	// the replica refuses connections, rather than answering wrongly, until it can serve them.
	Prime func(context.Context) error
}

// NeedLeaderElection is false: the data plane runs on every replica.
func (s *Server) NeedLeaderElection() bool { return false }

// Start listens and serves until ctx ends, then drains for up to 10 seconds.
func (s *Server) Start(ctx context.Context) error {
	log := ctrl.Log.WithName("dataplane")
	if s.Prime != nil {
		if err := s.Prime(ctx); err != nil || ctx.Err() != nil {
			return err // nil when stopped while priming
		}
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", s.Address)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.Address, err)
	}
	srv := &http.Server{
		Handler:           s.Handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	s.Registry.MarkListening(true)
	defer s.Registry.MarkListening(false)
	log.Info("Serving SCIM", "address", lis.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Unready first, so load balancers stop sending while in-flight requests finish.
	s.Registry.MarkListening(false)
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	if s.Drained != nil {
		s.Drained()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
