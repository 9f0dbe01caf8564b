package main

import (
	"flag"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
)

// leaderElection holds the flags of the lease that decides which replica runs the controllers.
type leaderElection struct {
	enabled   bool
	namespace string
	lease     time.Duration
	renew     time.Duration
	retry     time.Duration
}

// bindFlags registers the leader election flags; the durations default to controller-runtime's
// (15 s, 10 s, 2 s), the names to kube-controller-manager's.
func (l *leaderElection) bindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&l.enabled, "leader-elect", false, "Elect a leader so only one replica runs the controllers.")
	fs.StringVar(&l.namespace, "leader-election-namespace", "",
		"Namespace of the leader election Lease. Empty: the manager's own namespace in a cluster (required outside one).")
	fs.DurationVar(&l.lease, "leader-elect-lease-duration", 15*time.Second,
		"How long followers wait after the last renewal before taking the lease: the longest failover after a leader dies.")
	fs.DurationVar(&l.renew, "leader-elect-renew-deadline", 10*time.Second, "How long the leader retries renewing before it gives the lease up (and exits).")
	fs.DurationVar(&l.retry, "leader-elect-retry-period", 2*time.Second, "How often candidates try to take or renew the lease.")
}

// apply sets the manager's leader election options. The leader releases the lease when it stops
// (SIGTERM), so a rolling restart hands over at once instead of after a lease duration; that is
// safe because the process exits as soon as the manager has stopped.
func (l *leaderElection) apply(o *ctrl.Options) {
	o.LeaderElection = l.enabled
	o.LeaderElectionNamespace = l.namespace
	o.LeaderElectionReleaseOnCancel = true
	o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = &l.lease, &l.renew, &l.retry
}
