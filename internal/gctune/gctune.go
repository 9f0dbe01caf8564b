// Package gctune sets the garbage collector's target for the processes that serve SCIM: the
// manager, and the load tool's server child (test/load -external), so both measure the same.
package gctune

import (
	"os"
	"runtime/debug"
)

// DefaultGCPercent is the garbage collector's target when GOGC is not set: a heap may grow to
// three times what is live before a collection, instead of twice. Collection was about a tenth of
// the manager's CPU under SCIM load; at 200 lookups and PATCHes gained 0–13 % on PostgreSQL
// (docs/performance.md), for a heap of tens of MiB more. Deployments set GOMEMLIMIT to the
// container's memory limit (the Helm chart and config/manager do), so the collector works harder
// near the limit instead of running out of memory.
const DefaultGCPercent = 200

// Apply sets DefaultGCPercent unless the operator chose with GOGC.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
