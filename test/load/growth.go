package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Two scenarios of issue 15, run by make bench with -external:
//   -only sync: an identity provider's first sync, -sync-users POSTs from -concurrency clients,
//     timed from the first request to the last answer;
//   -only flat: lookups and single-member PATCH as the organization grows through -sizes, and
//     with -other-orgs organizations of -other-users users each beside it.

var (
	syncUsers  = flag.Int("sync-users", 100000, "-only sync: users the first sync creates")
	sizes      = flag.String("sizes", "1000,100000", "-only flat: organization sizes to measure at, in order")
	otherOrgs  = flag.Int("other-orgs", 1000, "-only flat: other organizations filled after the sizes, each with -other-users users (0: none)")
	otherUsers = flag.Int("other-users", 1000, "-only flat: users of each other organization")
)

// initialSync creates syncUsers users through SCIM, as Entra ID does on day one.
func initialSync(c *client) {
	var claimed, made atomic.Int64 // each incremented once per create: a claim, then a name
	_, elapsed, failed := measured(fmt.Sprintf("first sync: %d users", *syncUsers),
		func() bool { return claimed.Add(1) <= int64(*syncUsers) },
		func(int) error {
			return c.send("POST", "/Users", userBody(fmt.Sprintf("sync-%07d@bench.example", made.Add(1))), http.StatusCreated, nil)
		})
	fmt.Printf("%-44s %10s (%d failed)\n", "first sync duration", elapsed.Round(100*time.Millisecond), failed)
}

// flatness measures lookups and PATCH at each size, then beside many other organizations.
func flatness(b backend, c *client) {
	base, _ := b.urls()
	type point struct {
		label         string
		lookup, patch result
		rss           float64
	}
	var points []point
	measure := func(label string, n int) {
		b.settle()
		rss := b.rssMiB()
		lookup := timed("userName eq lookup, "+label, func(int) error {
			u := fmt.Sprintf("user-%07d@bench.example", rand.IntN(n))
			return c.get(base + "/Users?filter=" + url.QueryEscape(`userName eq "`+u+`"`))
		})
		patch := timed("PATCH active, "+label, func(int) error {
			return c.send("PATCH", "/Users/"+fmt.Sprintf("u%07d", rand.IntN(n)), patchActive(rand.IntN(2) == 0), http.StatusOK, nil)
		})
		points = append(points, point{label: label, lookup: lookup, patch: patch, rss: rss})
	}
	var first int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		check(err)
		if first == 0 {
			first = n
		}
		fmt.Printf("# filling the organization to %d users…\n", n)
		b.fill(n)
		measure(strconv.Itoa(n)+" users", n)
	}
	if *otherOrgs > 0 && first > 0 {
		fmt.Printf("# filling %d other organizations of %d users…\n", *otherOrgs, *otherUsers)
		b.fillOthers(*otherOrgs, *otherUsers)
		// Lookups and PATCHes go to the measured organization's first users, as at the smallest
		// size: what changed is the rows of the other organizations (and the organization's own).
		measure(fmt.Sprintf("beside %d orgs of %d", *otherOrgs, *otherUsers), first)
	}
	fmt.Println()
	fmt.Printf("# flatness against %s (target: within 1.5x)\n", points[0].label)
	for _, p := range points[1:] {
		fmt.Printf("%-44s lookup p50 %.2fx, ops/s %.2fx; PATCH p50 %.2fx, ops/s %.2fx; server RSS %.0f MiB (%+.0f)\n", p.label,
			float64(p.lookup.p50)/float64(points[0].lookup.p50), p.lookup.opsPerSec/points[0].lookup.opsPerSec,
			float64(p.patch.p50)/float64(points[0].patch.p50), p.patch.opsPerSec/points[0].patch.opsPerSec, p.rss, p.rss-points[0].rss)
	}
}
