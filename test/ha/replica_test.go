package ha

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
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

// replica is one manager process. Its addresses stay the same across restarts, as a pod's
// Service endpoint would.
type replica struct {
	name                 string
	scim, probe, metrics string
	args                 []string
	binary, dir          string
	kubeconfig, dsn      string
	extra                []string // arguments the test adds
	starts               int
	// portRetries counts first starts retried on new ports; ready is set once it was ready.
	portRetries int
	ready       bool
	cmd         *exec.Cmd
	logPath     string
	// done is closed when the current process has exited; exit is then its result.
	done chan struct{}
	exit error
}

func newReplica(t *testing.T, name, binary, dir, kubeconfig, dsn string) *replica {
	t.Helper()
	r := &replica{name: name, binary: binary, dir: dir, kubeconfig: kubeconfig, dsn: dsn}
	r.pickAddresses(t)
	return r
}

// pickAddresses chooses free ports for the replica. A port found free can be taken again before
// the replica binds it (an outgoing connection's ephemeral port): waitReady then picks anew, on a
// first start only (clients read the addresses once the replica is ready).
func (r *replica) pickAddresses(t *testing.T) {
	t.Helper()
	r.scim, r.probe, r.metrics = freeAddress(t), freeAddress(t), freeAddress(t)
	r.args = []string{"--kubeconfig", r.kubeconfig, "--postgres-url", r.dsn,
		"--bind-address", r.scim, "--external-url", "http://" + r.scim,
		"--health-probe-bind-address", r.probe, "--metrics-bind-address", r.metrics,
		"--leader-elect", "--leader-election-namespace", leaseNamespace,
		"--leader-elect-lease-duration", leaseDuration.String(), "--leader-elect-renew-deadline", renewDeadline.String(),
		"--leader-elect-retry-period", retryPeriod.String(),
		// The tests give their organizations limits of their own, above the installation's default maximum.
		"--max-organization-rate-limit=0", "--max-organization-burst=0"}
	r.args = append(r.args, r.extra...)
}

// start runs a new process of the replica, logging to a file of its own.
func (r *replica) start(t *testing.T) {
	t.Helper()
	r.starts++
	r.logPath = filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", r.name, r.starts))
	logFile, err := os.Create(r.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(r.binary, r.args...) //nolint:gosec,noctx // the binary just built; stopped by kill or term, not by a context
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	r.cmd, r.done = cmd, done
	go func() {
		r.exit = cmd.Wait()
		_ = logFile.Close()
		close(done)
	}()
}

// running says whether the current process has not exited.
func (r *replica) running() bool {
	if r.done == nil {
		return false
	}
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	if !r.running() {
		return
	}
	_ = r.cmd.Process.Kill()
	<-r.done
}

// term sends SIGTERM, waits up to timeout for the exit and returns its result (nil: exit 0).
func (r *replica) term(t *testing.T, timeout time.Duration) error {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
		return r.exit
	case <-time.After(timeout):
		r.kill(t)
		return fmt.Errorf("%s did not exit within %s of SIGTERM", r.name, timeout)
	}
}

// waitReady waits until /readyz answers 200; the first start includes migrations and the cache.
func (r *replica) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if !r.running() {
			if log, _ := os.ReadFile(r.logPath); strings.Contains(string(log), "address already in use") && !r.ready && r.portRetries < 3 {
				r.portRetries++
				t.Logf("%s found a port taken; starting it again on new ports", r.name)
				r.pickAddresses(t)
				r.start(t)
				continue
			}
			r.dumpLog(t)
			t.Fatalf("%s exited before it was ready: %v", r.name, r.exit)
		}
		if status, _ := get(t, "http://"+r.probe+"/readyz"); status == http.StatusOK {
			r.ready = true
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.dumpLog(t)
	t.Fatalf("%s was not ready within 2 minutes", r.name)
}

// metric sums the samples of the named series whose labels contain every one of labels (such
// as `controller="scimintegration"`); found is false when there is none.
func (r *replica) metric(t *testing.T, name string, labels ...string) (value float64, found bool) {
	t.Helper()
	status, body := get(t, "http://"+r.metrics+"/metrics")
	if status != http.StatusOK {
		return 0, false
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
next:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue next
			}
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err == nil {
			value, found = value+v, true
		}
	}
	return value, found
}

// leads says whether the replica holds the lease, by controller-runtime's leader metric.
func (r *replica) leads(t *testing.T) bool {
	t.Helper()
	if !r.running() {
		return false
	}
	v, _ := r.metric(t, "leader_election_master_status", `name="`+leaseName+`"`)
	return v == 1
}

// dumpLog prints the end of the current process's log, to follow a failure.
func (r *replica) dumpLog(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		return
	}
	lines := strings.Split(string(b), "\n")
	t.Logf("--- last lines of %s ---\n%s", filepath.Base(r.logPath), strings.Join(lines[max(0, len(lines)-60):], "\n"))
}

// get fetches url with a bounded wait; status 0 means no answer.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err.Error()
	}
	return resp.StatusCode, string(b)
}
