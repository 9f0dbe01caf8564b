package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's CPU times (100 on every
// Linux architecture Go supports).
const clockTicks = 100

// cpuTime is the CPU a process has used so far (user + system), from /proc/<pid>/stat.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it are space-separated.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// rssMiB is a process's resident set size, from /proc/<pid>/status.
func rssMiB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kib, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kib / 1024
		}
	}
	return 0
}

// childPID finds the child process of this one running the named command (envtest starts
// kube-apiserver and etcd as children and does not say which pid they got).
func childPID(command string) int {
	self := strconv.Itoa(os.Getpid())
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path) //nolint:gosec // a /proc path from the glob above
		if err != nil {
			continue
		}
		s := string(b)
		open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(s[closing+1:])
		if s[open+1:closing] == command && len(fields) > 1 && fields[1] == self {
			pid, _ := strconv.Atoi(strings.TrimSpace(s[:open]))
			return pid
		}
	}
	return 0
}

// cpuMeter measures the share of one core processes use over a window.
type cpuMeter struct {
	start time.Time
	pids  []int
	used  []time.Duration
}

func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{start: time.Now(), pids: pids, used: make([]time.Duration, len(pids))}
	for i, pid := range pids {
		m.used[i], _ = cpuTime(pid)
	}
	return m
}

// percent is each process's CPU since start, in percent of one core.
func (m *cpuMeter) percent() []float64 {
	elapsed := time.Since(m.start)
	out := make([]float64, len(m.pids))
	for i, pid := range m.pids {
		now, err := cpuTime(pid)
		if err != nil {
			continue
		}
		out[i] = 100 * float64(now-m.used[i]) / float64(elapsed)
	}
	return out
}
