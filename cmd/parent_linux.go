package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// stopWithParent asks the kernel to send SIGTERM when the process that started us exits. `make
// run` starts the manager as a child of make: killing make (kill <pid>, a closed terminal) would
// otherwise leave the manager, and the kube-apiserver and etcd it started, running and holding
// their ports. The SIGTERM takes the ordinary shutdown path, which stops the control plane.
func stopWithParent() {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGTERM), 0, 0, 0); err != nil {
		setupLog.Error(err, "Cannot follow the parent process; stop the manager itself to stop the local control plane")
		return
	}
	if os.Getppid() == 1 { // the parent exited before the request took effect
		_ = unix.Kill(os.Getpid(), unix.SIGTERM)
	}
}
