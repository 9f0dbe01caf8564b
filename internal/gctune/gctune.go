// Package gctune sets the garbage collector's targets for the processes that serve SCIM: the
// manager, and the load tool's server child (test/load -external), so both measure the same.
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultGCPercent is the garbage collector's target when GOGC is not set: a heap may grow to
// three times what is live before a collection, instead of twice. Collection was about a tenth of
// the manager's CPU under SCIM load; at 200 lookups and PATCHes gained 0–13 % on PostgreSQL
// (docs/performance.md), for a heap of tens of MiB more.
const DefaultGCPercent = 200

// memoryShare is the part of the container's memory limit the Go runtime aims to stay under
// (GOMEMLIMIT, unless set): the collector works harder near it instead of letting the heap reach
// the limit, and the rest is headroom for memory outside Go's accounting.
const memoryShare = 0.9

// cgroupMemoryMax is where cgroup v2 tells a container its memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// Apply sets DefaultGCPercent unless the operator chose with GOGC, and a soft memory limit of
// memoryShare of the container's limit unless the operator chose with GOMEMLIMIT.
func Apply() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(DefaultGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); set {
		return
	}
	if b, err := os.ReadFile(cgroupMemoryMax); err == nil {
		if limit, ok := softLimit(string(b)); ok {
			debug.SetMemoryLimit(limit)
		}
	}
}

// softLimit is memoryShare of a cgroup memory.max value; none when it is "max" (no limit).
func softLimit(memoryMax string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(memoryMax), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return int64(float64(n) * memoryShare), true
}
