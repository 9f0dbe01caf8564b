package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/z8z8/enterprise-identity-operator/internal/gctune"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
)

// With -external the server runs in a child process of its own (this program with -serve), so
// the figures are what an identity provider sees over real connections: the load generator and
// the server do not share a Go runtime, a scheduler or a garbage collector. The parent drives the
// child over its stdin with one-line commands (fill N, settle, rss, cpu) and reads one-line
// answers; it measures the child's CPU time around every timed scenario.

var (
	external = flag.Bool("external", false, "run the server in a separate process (what make bench does)")
	serveDir = flag.String("serve", "", "internal: serve the store in this folder and take commands on stdin (the -external child)")
)

// backend is where the scenarios' server runs: in this process, or in a child.
type backend interface {
	urls() (scimBase, noop string)
	// fill makes the organization hold users 0…n-1 (those already there are kept).
	fill(n int)
	// fillOthers fills k other organizations with n users each.
	fillOthers(k, n int)
	settle()
	rssMiB() float64
	// cpuSeconds is the server's CPU time so far (user and system); 0 when it shares our process.
	cpuSeconds() float64
	// profile starts writing the server's CPU profile to file, unprofile stops it; no-ops when
	// the server shares our process (-cpuprofile profiles both then).
	profile(file string)
	unprofile()
	close()
}

// inProcess serves from this process, as the load tool always did.
type inProcess struct {
	ctx             context.Context
	st              store.Store
	filled          int // users u0000000… created so far
	base, noop      string
	stopS, stopNoop func()
}

func newInProcess(ctx context.Context, st store.Store) *inProcess {
	b := &inProcess{ctx: ctx, st: st}
	b.base, b.stopS = serve(st)
	b.noop, b.stopNoop = serveNoop()
	return b
}

func (b *inProcess) urls() (string, string) { return b.base, b.noop }
func (b *inProcess) fill(n int) {
	if n > b.filled {
		fillRange(b.ctx, b.st, org, b.filled, n)
		b.filled = n
	}
}
func (b *inProcess) fillOthers(k, n int) {
	for i := range k {
		fillOrg(b.ctx, b.st, fmt.Sprintf("other-%05d", i), n)
	}
}

func (b *inProcess) settle()             { settle(b.ctx, b.st) }
func (b *inProcess) rssMiB() float64     { return rssMiB() }
func (b *inProcess) cpuSeconds() float64 { return 0 }
func (b *inProcess) profile(string)      {}
func (b *inProcess) unprofile()          {}
func (b *inProcess) close()              { b.stopS(); b.stopNoop() }

// child is the server in a process of its own.
type child struct {
	cmd        *exec.Cmd
	in         io.WriteCloser
	out        *bufio.Reader
	base, noop string
}

func startChild(dir string) *child {
	self, err := os.Executable()
	check(err)
	cmd := exec.Command(self, "-serve", dir, "-store", *storeKind) //nolint:gosec,noctx // this program, stopped by closing its stdin
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	check(err)
	stdout, err := cmd.StdoutPipe()
	check(err)
	check(cmd.Start())
	c := &child{cmd: cmd, in: in, out: bufio.NewReader(stdout)}
	fields := strings.Fields(c.answer())
	if len(fields) != 2 {
		check(fmt.Errorf("the server process did not start: %q", fields))
	}
	c.base, c.noop = fields[0], fields[1]
	return c
}

// ask sends one command and returns its answer.
func (c *child) ask(command string) string {
	_, err := fmt.Fprintln(c.in, command)
	check(err)
	return c.answer()
}

func (c *child) answer() string {
	line, err := c.out.ReadString('\n')
	check(err)
	return strings.TrimSpace(line)
}

func (c *child) urls() (string, string) { return c.base, c.noop }
func (c *child) fill(n int)             { c.ask("fill " + strconv.Itoa(n)) }
func (c *child) settle()                { c.ask("settle") }
func (c *child) fillOthers(k, n int)    { c.ask(fmt.Sprintf("others %d %d", k, n)) }

func (c *child) rssMiB() float64 {
	v, _ := strconv.ParseFloat(c.ask("rss"), 64)
	return v
}

func (c *child) cpuSeconds() float64 {
	v, _ := strconv.ParseFloat(c.ask("cpu"), 64)
	return v
}

func (c *child) profile(file string) { c.ask("profile " + file) }
func (c *child) unprofile()          { c.ask("unprofile") }

func (c *child) close() {
	_ = c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
	}
}

// serveChild is the -external child: it serves the store and answers the parent's commands until
// its stdin closes.
func serveChild(ctx context.Context) {
	gctune.Apply() // as the manager does
	st, err := openStore(ctx, filepath.Join(*serveDir, "identity.db"))
	check(err)
	b := newInProcess(ctx, st)
	fmt.Println(b.base, b.noop)
	in := bufio.NewScanner(os.Stdin)
	var profile *os.File
	for in.Scan() {
		command, arg, _ := strings.Cut(in.Text(), " ")
		switch command {
		case "fill":
			n, err := strconv.Atoi(arg)
			check(err)
			b.fill(n)
			fmt.Println("ok")
		case "others":
			k, n, _ := strings.Cut(arg, " ")
			ki, err := strconv.Atoi(k)
			check(err)
			ni, err := strconv.Atoi(n)
			check(err)
			b.fillOthers(ki, ni)
			fmt.Println("ok")
		case "settle":
			b.settle()
			fmt.Println("ok")
		case "rss":
			fmt.Printf("%.1f\n", rssMiB())
		case "cpu":
			fmt.Printf("%.3f\n", ownCPUSeconds())
		case "profile":
			f, err := os.Create(arg) //nolint:gosec // a file the parent names
			check(err)
			check(pprof.StartCPUProfile(f))
			profile = f
			fmt.Println("ok")
		case "unprofile":
			pprof.StopCPUProfile()
			check(profile.Close())
			fmt.Println("ok")
		default:
			fmt.Println("unknown")
		}
	}
	b.close()
	check(st.Close())
}

// ownCPUSeconds is this process's user and system CPU time, from /proc/self/stat.
func ownCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// Fields after the command name (which is in parentheses and may hold spaces): utime and
	// stime are the 12th and 13th of them, in clock ticks (100 a second on Linux).
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100
}
