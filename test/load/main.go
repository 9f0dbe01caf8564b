// Command load measures the SCIM data plane on loopback and prints the figures that
// docs/performance.md records: ops/s and p50/p99 latency per scenario, beside two baselines
// measured in the same run (a no-op HTTP handler, raw single-row SQLite inserts at the same
// durability setting) and resident memory growth.
//
//	go run ./test/load                      # SQLite, full sizes (make bench)
//	go run ./test/load -users 10000 -members 5000
//	EIO_TEST_POSTGRES_DSN=postgres://… go run ./test/load -store postgres
//	go run ./test/load -only delivery       # webhook delivery throughput and lag (delivery.go)
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	_ "modernc.org/sqlite"

	"github.com/z8z8/enterprise-identity-operator/internal/scim"
	"github.com/z8z8/enterprise-identity-operator/internal/store"
	"github.com/z8z8/enterprise-identity-operator/internal/store/sqlstore"
	"github.com/z8z8/enterprise-identity-operator/internal/tenant"
	"github.com/z8z8/enterprise-identity-operator/internal/token"
)

const (
	org = "bench"
	tok = "eio_scim_benchmark-token-0123456789abcdef0123456789"
)

var (
	users       = flag.Int("users", 100000, "users in the organization for the lookup scenario")
	members     = flag.Int("members", 50000, "members of the large group")
	concurrency = flag.Int("concurrency", 8, "concurrent clients")
	duration    = flag.Duration("duration", 5*time.Second, "how long each timed scenario runs")
	storeKind   = flag.String("store", "sqlite", "sqlite or postgres (EIO_TEST_POSTGRES_DSN)")
	only        = flag.String("only", "", "run only one scenario (lookup, mix, noisy, delivery, sync or flat)")
	cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the run to this file; with -external, the server's of each timed scenario to\n"+
		"this file.server.<scenario>")
)

func main() {
	flag.Parse()
	ctx := context.Background()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	if *serveDir != "" {
		serveChild(ctx)
		return
	}
	dir, err := os.MkdirTemp("", "eio-load-")
	check(err)
	defer func() { _ = os.RemoveAll(dir) }()

	var b backend
	if *external && *only != "noisy" && *only != "delivery" {
		b = startChild(dir)
		server = b
	} else {
		st, err := openStore(ctx, filepath.Join(dir, "identity.db"))
		check(err)
		defer func() { _ = st.Close() }()
		if *only == "noisy" {
			fmt.Printf("# noisy neighbour on loopback: %s store, %d clients for the quiet org, %s per phase, %d CPUs, %s\n",
				*storeKind, *concurrency, *duration, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
			fmt.Printf("%-44s %10s %10s %10s\n", "scenario", "ops/s", "p50", "p99")
			noisyNeighbour(ctx, st)
			return
		}
		if *only == "delivery" {
			deliveryScenario(ctx, st)
			return
		}
		b = newInProcess(ctx, st)
	}
	defer b.close()
	runScenarios(b, dir)
}

// server, with -external, is the child whose CPU time each timed scenario reports per operation.
var server backend

// runScenarios runs the SCIM scenarios against the backend and prints the targets.
func runScenarios(b backend, dir string) {
	rssStart := b.rssMiB()
	base, noop := b.urls()
	c := &client{http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, base: base}

	where := "the same process"
	if server != nil {
		where = "a separate server process"
	}
	fmt.Printf("# SCIM load on loopback: %s store in %s, %d clients, %s per timed scenario, %d CPUs, %s\n",
		*storeKind, where, *concurrency, *duration, runtime.NumCPU(), time.Now().UTC().Format(time.DateOnly))
	fmt.Printf("%-44s %10s %10s %10s %14s\n", "scenario", "ops/s", "p50", "p99", "server CPU/op")

	noopResult := timed("baseline: no-op HTTP handler", func(int) error { return c.get(noop + "/") })
	switch *only {
	case "sync":
		initialSync(c)
		return
	case "flat":
		flatness(b, c)
		return
	}
	if *only == "lookup" {
		b.fill(*users)
		timed("userName eq lookup", func(int) error {
			u := fmt.Sprintf("user-%07d@bench.example", rand.IntN(*users))
			return c.get(base + "/Users?filter=" + url.QueryEscape(`userName eq "`+u+`"`))
		})
		timed("userName eq lookup, excludedAttributes=groups", func(int) error {
			u := fmt.Sprintf("user-%07d@bench.example", rand.IntN(*users))
			return c.get(base + "/Users?excludedAttributes=groups&filter=" + url.QueryEscape(`userName eq "`+u+`"`))
		})
		return
	}
	if *only == "mix" {
		b.fill(*users)
		groupWith(c, *members)
		var n atomic.Int64
		timed("mix 70% read / 20% patch / 10% create", func(int) error { return mixOp(c, base, &n) })
		return
	}
	rawResult := rawInserts(filepath.Join(dir, "raw.db"))

	var created atomic.Int64
	createResult := timed("create user (POST /Users)", func(int) error {
		n := created.Add(1)
		return c.send("POST", "/Users", userBody(fmt.Sprintf("created-%d@bench.example", n)), http.StatusCreated, nil)
	})

	fmt.Printf("# filling the organization to %d users…\n", *users)
	b.fill(*users)
	b.settle()
	rssFull := b.rssMiB()
	lookupResult := timed(fmt.Sprintf("userName eq lookup (%d users)", *users), func(int) error {
		u := fmt.Sprintf("user-%07d@bench.example", rand.IntN(*users))
		return c.get(base + "/Users?filter=" + url.QueryEscape(`userName eq "`+u+`"`))
	})
	patchResult := timed("PATCH active", func(int) error {
		id := fmt.Sprintf("u%07d", rand.IntN(*users))
		return c.send("PATCH", "/Users/"+id, patchActive(rand.IntN(2) == 0), http.StatusOK, nil)
	})

	small := groupWith(c, 10)
	large := groupWith(c, *members)
	memberAt := func(group string) func(int) error {
		return func(i int) error {
			id := fmt.Sprintf("u%07d", *members+rand.IntN(*users-*members))
			if err := c.send("PATCH", "/Groups/"+group, memberOp("add", id), http.StatusNoContent, nil); err != nil {
				return err
			}
			return c.send("PATCH", "/Groups/"+group, memberOp("remove", id), http.StatusNoContent, nil)
		}
	}
	smallResult := timed("member add+remove, group of 10", memberAt(small))
	largeResult := timed(fmt.Sprintf("member add+remove, group of %d", *members), memberAt(large))

	mixResult := timed("mix 70% read / 20% patch / 10% create", func(int) error { return mixOp(c, base, &created) })

	fmt.Println()
	fmt.Printf("# targets (SQLite)\n")
	target("lookups >= 50% of the no-op handler", lookupResult.opsPerSec/noopResult.opsPerSec, 0.5)
	target("creates >= 60% of raw single-row inserts", createResult.opsPerSec/rawResult.opsPerSec, 0.6)
	fmt.Printf("%-52s %.2fx (target <= 1.5x)  %s\n", "member PATCH p50 at "+strconv.Itoa(*members)+" vs 10 members",
		float64(largeResult.p50)/float64(smallResult.p50), pass(float64(largeResult.p50) <= 1.5*float64(smallResult.p50)))
	fmt.Printf("%-52s %.0f MiB (target < 100 MiB)  %s\n", "resident memory growth, 0 → "+strconv.Itoa(*users)+" users",
		rssFull-rssStart, pass(rssFull-rssStart < 100))
	_ = patchResult
	_ = mixResult
}

// mixOp is one operation of the 70/20/10 read/patch/create mix.
func mixOp(c *client, base string, created *atomic.Int64) error {
	switch p := rand.IntN(10); {
	case p < 7:
		return c.get(base + "/Users/" + fmt.Sprintf("u%07d", rand.IntN(*users)))
	case p < 9:
		return c.send("PATCH", "/Users/"+fmt.Sprintf("u%07d", rand.IntN(*users)), patchActive(rand.IntN(2) == 0), http.StatusOK, nil)
	default:
		return c.send("POST", "/Users", userBody(fmt.Sprintf("mix-%d@bench.example", created.Add(1))), http.StatusCreated, nil)
	}
}

type result struct {
	opsPerSec float64
	p50, p99  time.Duration
}

// timed runs op from concurrent clients for the scenario's duration and prints its figures.
func timed(name string, op func(int) error) result {
	deadline := time.Now().Add(*duration)
	r, _, _ := measured(name, func() bool { return time.Now().Before(deadline) }, op)
	return r
}

// measured runs op from concurrent clients while more says so and prints its figures; it also
// returns how long that took and how many operations failed.
func measured(name string, more func() bool, op func(int) error) (result, time.Duration, int64) {
	var (
		mu        sync.Mutex
		latencies []time.Duration
		wg        sync.WaitGroup
		failures  atomic.Int64
	)
	cpu0 := 0.0
	if server != nil {
		if *cpuProfile != "" {
			server.profile(*cpuProfile + ".server." + fileNamePart(name))
			defer server.unprofile()
		}
		cpu0 = server.cpuSeconds()
	}
	start := time.Now()
	for w := range *concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			for i := 0; more(); i++ {
				t0 := time.Now()
				if err := op(w*1_000_000 + i); err != nil {
					if failures.Add(1) == 1 {
						fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
					}
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := 0.0
	if server != nil {
		cpu = server.cpuSeconds() - cpu0
	}
	return report(name, latencies, elapsed, failures.Load(), cpu), elapsed, failures.Load()
}

// fileNamePart is a scenario's name as part of a file name.
func fileNamePart(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, name)
}

// report prints a scenario's figures; cpu is the server's CPU seconds during it (0: unknown).
func report(name string, latencies []time.Duration, elapsed time.Duration, failures int64, cpu float64) result {
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	r := result{opsPerSec: float64(len(latencies)) / elapsed.Seconds()}
	if n := len(latencies); n > 0 {
		r.p50, r.p99 = latencies[n/2], latencies[n*99/100]
	}
	suffix := ""
	if failures > 0 {
		suffix = fmt.Sprintf("  (%d failed)", failures)
	}
	perOp := "—"
	if cpu > 0 && len(latencies) > 0 {
		perOp = fmt.Sprintf("%.3f ms", cpu*1000/float64(len(latencies)))
	}
	fmt.Printf("%-44s %10.0f %10s %10s %14s%s\n", name, r.opsPerSec, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), perOp, suffix)
	return r
}

func target(name string, ratio, want float64) {
	fmt.Printf("%-52s %.2f (target >= %.2f)  %s\n", name, ratio, want, pass(ratio >= want))
}

func pass(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func openStore(ctx context.Context, file string) (store.Store, error) {
	if *storeKind == "postgres" {
		dsn := os.Getenv("EIO_TEST_POSTGRES_DSN")
		if dsn == "" {
			return nil, fmt.Errorf("set EIO_TEST_POSTGRES_DSN (hack/with-postgres.sh does)")
		}
		return sqlstore.OpenPostgres(ctx, dsn)
	}
	return sqlstore.OpenSQLite(ctx, file)
}

// serve runs the real SCIM handler on a loopback port.
func serve(st store.Store) (string, func()) {
	reg := tenant.NewRegistry()
	var c tenant.Credential
	b, _ := hex.DecodeString(token.Hash(tok))
	copy(c.SHA256[:], b)
	c.Current = true
	reg.Set(&tenant.Organization{Name: org, Enabled: true, Integration: types.NamespacedName{Name: org}, Credentials: []tenant.Credential{c}})
	reg.MarkListening(true)
	go func() {
		for range reg.Uses() { // nobody records use here; drain
		}
	}()
	srv := &scim.Server{Store: st, Tenants: reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	address, stop := listen(srv.Handler())
	return address + "/scim/v2/" + org, func() { stop(); srv.Close() } // queued audit events, before the store closes
}

func serveNoop() (string, func()) {
	return listen(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/scim+json")
		_, _ = w.Write([]byte(`{}`))
	}))
}

func listen(h http.Handler) (string, func()) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	check(err)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }
}

// rawInserts measures single-row inserts of the same rows into the same table (the store's schema
// and indexes) with the same durability settings, each in its own transaction, from the same
// number of goroutines: the database's cost of a create, without HTTP or SCIM processing.
func rawInserts(file string) result {
	saved := server
	server = nil // this runs in our process: the server's CPU says nothing about it
	defer func() { server = saved }()
	seed, err := sqlstore.OpenSQLite(context.Background(), file) // creates the schema
	check(err)
	check(seed.Close())
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	check(err)
	defer func() { _ = db.Close() }()
	var n atomic.Int64
	now := time.Now().UnixMicro()
	return timed("baseline: raw single-row SQLite insert", func(int) error {
		name := "raw-" + strconv.FormatInt(n.Add(1), 10) + "@bench.example"
		tx, err := db.BeginTx(context.Background(), nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(context.Background(), `INSERT INTO scim_users
			(org, id, name, name_lower, external_id, display_name, email_lower, active, doc, created_us, modified_us, version)
			VALUES (?, ?, ?, ?, NULL, NULL, ?, 1, ?, ?, ?, 1)`, org, name, name, name, name, string(storedUserDoc(name)), now, now); err != nil {
			_ = tx.Rollback()
			return err
		}
		return tx.Commit()
	})
}

// fill creates users u0000000… directly in the store (the create scenario measured HTTP).
func fillOrg(ctx context.Context, st store.Store, org string, n int) { fillRange(ctx, st, org, 0, n) }

// fillRange creates the organization's users from…to-1 directly in the store.
func fillRange(ctx context.Context, st store.Store, org string, from, to int) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	// Writes land under the organization's binding (none when nothing bound it).
	binding, err := st.OrganizationBinding(ctx, org)
	check(err)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	next.Store(int64(from))
	workers := 4 // SQLite: one writer, group commit
	if *storeKind == "postgres" {
		workers = 16 // PostgreSQL: a transaction per write, latency-bound
	}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				name := fmt.Sprintf("user-%07d@bench.example", i)
				r := &store.Resource{Org: org, Kind: store.KindUser, ID: fmt.Sprintf("u%07d", i), Name: name, Email: name, Active: true,
					Doc: storedUserDoc(name), Created: now, Modified: now, Version: 1}
				check(st.Create(ctx, r, nil, store.Write{Binding: binding}))
			}
		}()
	}
	wg.Wait()
}

// settle lets a bulk load land before timing reads: a garbage collection, and on SQLite a WAL
// checkpoint (a running service reaches the same state by itself within moments).
func settle(ctx context.Context, st store.Store) {
	runtime.GC()
	if s, ok := st.(*sqlstore.Store); ok && *storeKind == "sqlite" {
		_, _ = s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	}
}

// groupWith creates a group holding the first n users, added in batches as IdPs do.
func groupWith(c *client, n int) string {
	var created map[string]any
	check(c.send("POST", "/Groups", []byte(`{"displayName":"group of `+strconv.Itoa(n)+`"}`), http.StatusCreated, &created))
	id := created["id"].(string)
	for start := 0; start < n; start += 1000 {
		var batch []map[string]string
		for i := start; i < min(start+1000, n); i++ {
			batch = append(batch, map[string]string{"value": fmt.Sprintf("u%07d", i)})
		}
		body, _ := json.Marshal(map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": batch}}})
		check(c.send("PATCH", "/Groups/"+id, body, http.StatusNoContent, nil))
	}
	return id
}

type client struct {
	http *http.Client
	base string
}

func (c *client) get(u string) error {
	req, _ := http.NewRequestWithContext(context.Background(), "GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	return c.do(req, http.StatusOK, nil)
}

func (c *client) send(method, path string, body []byte, want int, out any) error {
	req, _ := http.NewRequestWithContext(context.Background(), method, c.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/scim+json")
	return c.do(req, want, out)
}

func (c *client) do(req *http.Request, want int, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// userFields is a bench user's attributes.
func userFields(userName string) map[string]any {
	return map[string]any{"userName": userName, "active": true,
		"name":   map[string]any{"givenName": "Bench", "familyName": "User"},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}}}
}

// storedUserDoc is userBody as the SCIM layer stores it (canonicalize drops schemas, id and
// meta): users filled straight into the store must be what a POST leaves, or their reads take
// the slow rendering a stored "schemas" key sends them to, which no real user does.
func storedUserDoc(userName string) []byte {
	b, _ := json.Marshal(userFields(userName))
	return b
}

func userBody(userName string) []byte {
	fields := userFields(userName)
	fields["schemas"] = []string{"urn:ietf:params:scim:schemas:core:2.0:User"}
	b, _ := json.Marshal(fields)
	return b
}

func patchActive(active bool) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":` +
		strconv.FormatBool(active) + `}]}`)
}

func memberOp(op, id string) []byte {
	return []byte(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"` + op +
		`","path":"members","value":[{"value":"` + id + `"}]}]}`)
}

// rssMiB is the process's resident memory.
func rssMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
