package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A container runtime or a shell's `kill` stops the manager with SIGTERM: with --local it must
// stop the kube-apiserver and etcd it started, as Ctrl-C does, and leave nothing holding ports.
// Under `make run` the manager is make's child, and killing make must stop it too.
func TestLocalStopsItsControlPlaneOnSIGTERM(t *testing.T) {
	t.Run("the manager is signalled", func(t *testing.T) { stopLocal(t, false) })
	t.Run("its parent (make) is killed", func(t *testing.T) { stopLocal(t, true) })
}

func stopLocal(t *testing.T, viaParent bool) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run through make test, which builds the control plane")
	}
	dir := t.TempDir()
	binary := filepath.Join(dir, "manager")
	if out, err := exec.CommandContext(t.Context(), "go", "build", "-o", binary, ".").CombinedOutput(); err != nil { //nolint:gosec // fixed arguments
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	local := filepath.Join(dir, "local")
	probe := freePort(t)
	args := []string{"--local", "--local-dir", local,
		"--bind-address", "127.0.0.1:" + freePort(t), "--health-probe-bind-address", "127.0.0.1:" + probe, "--metrics-bind-address", "0",
		"--crd-dir", "../config/crd/bases", "--samples-dir", "../config/samples"}
	cmd := exec.CommandContext(t.Context(), binary, args...) //nolint:gosec // the binary just built
	if viaParent {
		// A shell that stays the manager's parent (it has more to do after it), as make does.
		cmd = exec.CommandContext(t.Context(), "sh", append([]string{"-c", `"$0" "$@"; true`, binary}, args...)...) //nolint:gosec // the binary just built
	}
	// Should the test fail early, stop the manager the way that stops its control plane too.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = time.Minute
	logFile, _ := os.Create(filepath.Join(dir, "manager.log")) //nolint:gosec // the test's own file
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := false
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && !ready; time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://127.0.0.1:"+probe+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	if !ready {
		_ = cmd.Process.Kill()
		log, _ := os.ReadFile(filepath.Join(dir, "manager.log")) //nolint:gosec // the test's own file
		t.Fatalf("the local manager did not become ready:\n%s", log)
	}
	started := descendants(cmd.Process.Pid)
	if !viaParent {
		started = append(started, cmd.Process.Pid)
	}
	if len(started) < 3 { // the manager, kube-apiserver, etcd
		t.Fatalf("found %v below the process started; want the manager, kube-apiserver and etcd", started)
	}

	signal := syscall.SIGTERM
	if viaParent {
		signal = syscall.SIGKILL // the parent goes without a word
	}
	if err := cmd.Process.Signal(signal); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // non-zero when killed through its parent
	select {
	case <-done:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("the manager did not exit within a minute of SIGTERM")
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if len(alive(started)) == 0 {
			return
		}
	}
	t.Fatalf("processes the manager started outlived it: %v", alive(started))
}

// descendants lists the pids below pid.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(p); ok {
			children[ppid] = append(children[ppid], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

// parentOf reads a process's parent from /proc/<pid>/stat (the field after the state).
func parentOf(pid int) (int, bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat")) //nolint:gosec // reading /proc
	if err != nil {
		return 0, false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// alive keeps the pids that still run (a zombie waiting for its parent holds nothing).
func alive(pids []int) []int {
	var out []int
	for _, p := range pids {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p), "stat")) //nolint:gosec // reading /proc
		if err != nil {
			continue
		}
		if fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:])); len(fields) > 0 && fields[0] == "Z" {
			continue
		}
		out = append(out, p)
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
