package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// manager is the operator running as its own process, so its CPU and memory are its own.
type manager struct {
	cmd         *exec.Cmd
	dataPlane   string // http://127.0.0.1:port
	metricsAddr string
	log         string
}

// startManager builds ./cmd (the binary that ships) and runs it against the kubeconfig with the
// SQLite store in dir, leader election off, every listener on a free loopback port.
func startManager(ctx context.Context, dir, kubeconfig string) (*manager, error) {
	bin := filepath.Join(dir, "manager")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd") //nolint:gosec // our temp dir
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("building the manager: %w", err)
	}
	ports, err := freePorts(ctx, 3)
	if err != nil {
		return nil, err
	}
	m := &manager{
		dataPlane:   "http://127.0.0.1:" + ports[0],
		metricsAddr: "127.0.0.1:" + ports[2],
		log:         filepath.Join(dir, "manager.log"),
	}
	logFile, err := os.Create(m.log)
	if err != nil {
		return nil, err
	}
	m.cmd = exec.CommandContext(ctx, bin, //nolint:gosec // the binary built above
		"--bind-address=127.0.0.1:"+ports[0],
		"--external-url="+m.dataPlane,
		"--health-probe-bind-address=127.0.0.1:"+ports[1],
		"--metrics-bind-address="+m.metricsAddr,
		"--sqlite-path="+filepath.Join(dir, "identity.db"),
		// The scale run puts -per-namespace organizations (100 by default) in each namespace.
		"--max-organizations-per-namespace=0",
	)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	// SIGTERM, not SIGKILL, when the context ends: the manager stops as in a cluster.
	m.cmd.Cancel = func() error { return m.cmd.Process.Signal(syscall.SIGTERM) }
	m.cmd.WaitDelay = 20 * time.Second
	if err := m.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the manager: %w", err)
	}
	if err := waitHTTP(ctx, "http://127.0.0.1:"+ports[1]+"/healthz", time.Minute); err != nil {
		m.stop()
		return nil, fmt.Errorf("the manager did not become healthy (log: %s): %w", m.log, err)
	}
	return m, nil
}

func (m *manager) pid() int { return m.cmd.Process.Pid }

// stop ends the manager with SIGTERM and waits for it.
func (m *manager) stop() {
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	_ = m.cmd.Wait()
}

// heapMiB reads the Go heap in use from the manager's /metrics (what RSS, which the Go runtime
// returns to the kernel lazily, only bounds); 0 when the endpoint cannot be read.
func (m *manager) heapMiB(ctx context.Context) float64 {
	var heap float64
	m.scrape(ctx, func(line string) {
		if v, ok := strings.CutPrefix(line, "go_memstats_heap_inuse_bytes "); ok {
			heap, _ = strconv.ParseFloat(v, 64)
		}
	})
	return heap / (1 << 20)
}

// reconciles reads controller-runtime's reconcile counts per controller, to tell which one
// works while nothing changes.
func (m *manager) reconciles(ctx context.Context) map[string]float64 {
	out := map[string]float64{}
	m.scrape(ctx, func(line string) {
		rest, ok := strings.CutPrefix(line, "controller_runtime_reconcile_total{")
		if !ok {
			return
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if v, err := strconv.ParseFloat(value, 64); ok && err == nil {
			out[parseLabels(labels)["controller"]] += v
		}
	})
	return out
}

// scrape hands each line of the manager's /metrics to fn; nothing when it cannot be read.
func (m *manager) scrape(ctx context.Context, fn func(line string)) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.metricsAddr+"/metrics", nil)
	if err != nil {
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return
	}
	defer func() { _ = resp.Body.Close() }()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// freePorts holds n loopback ports open at once, so they differ, and returns them closed.
func freePorts(ctx context.Context, n int) ([]string, error) {
	var ports []string
	for range n {
		l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer func() { _ = l.Close() }()
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}

func waitHTTP(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s", url, timeout)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
