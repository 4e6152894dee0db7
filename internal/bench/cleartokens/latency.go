package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

// latencyPlan is the live-traffic part of a run: the load's rate and
// connections, the copy it plays on, and the variants to run beside it.
type latencyPlan struct {
	rate    float64
	conns   int
	sh      shape
	layout  sqlstoretest.Layout
	n       int
	order   []string
	idleFor time.Duration // how long "idle" measures
	warm    time.Duration // load before measuring, not counted
}

// runLatency runs, per variant on a fresh copy, the load alone for warm,
// then the variant beside it, and reports the latency of the operations
// that were due while the variant ran ("idle": for idleFor, no variant).
// A variant named more than once is reported over all its runs' operations
// together, its wall time by the median.
func runLatency(target copier, p latencyPlan, now time.Time) {
	rules := rulesOf(p.layout)
	takeLock = true // as the command runs beside a live server
	settleInChild = false
	var names []string
	pooled := map[string][]op{}
	walls := map[string][]time.Duration{}
	samplers := map[string][]*waitSampler{}
	for i, v := range p.order {
		u, drop := target.seed(p.sh, p.layout, p.n, now)
		g, err := openLoad(u, p.layout, p.sh.slots(int64(p.n)), p.conns)
		must(err)
		dialectOf(g.kind).settle(g.db)
		w := newWaitSampler(u)
		stopLoad, stopSample := make(chan struct{}), make(chan struct{})
		var ops []op
		loaded := make(chan struct{})
		go func() { ops = g.run(p.rate, p.conns, stopLoad); close(loaded) }()
		time.Sleep(p.warm)
		sampled := make(chan struct{})
		go func() { w.run(stopSample); close(sampled) }()
		from := time.Now()
		if v == "idle" {
			time.Sleep(p.idleFor)
		} else {
			walls[v] = append(walls[v], runVariant(v, u, rules, now).Elapsed)
		}
		to := time.Now()
		close(stopSample)
		<-sampled
		close(stopLoad)
		<-loaded
		if !slices.Contains(names, v) {
			names = append(names, v)
		}
		due := during(ops, from, to)
		pooled[v] = append(pooled[v], due...)
		samplers[v] = append(samplers[v], w)
		l := summarize(due)
		fmt.Fprintf(os.Stderr, "  load [%d/%d] %s: p50 %s, p99 %s, max %s, %d/%d errors %s\n", i+1, len(p.order), v, ms(l.p50), ms(l.p99), ms(l.maxL), l.errs, l.ops, l.firstErr)
		if w != nil {
			w.db.Close()
		}
		g.db.Close()
		drop()
	}
	fmt.Printf("\n## Live traffic beside each variant: %s, N = %d, DOT %s layout\n", p.sh.name, p.n, p.layout)
	fmt.Printf("The load plays a DOT server at %.0f operations a second on %d connections (4 in 10 lookups by checksum, 3 new token pairs, 2 refresh rotations, 1 revocation); latency counts from when each was due; oauthkit takes its single-runner lock, as the command does. A variant's runs are pooled.\n\n", p.rate, p.conns)
	fmt.Printf("| variant | runs | cleaner's wall (median) | ops | errors | p50 | p99 | max | p99 / idle p99 |\n|---|---|---|---|---|---|---|---|---|\n")
	idle := summarize(pooled["idle"])
	var waits []string
	for _, v := range names {
		l := summarize(pooled[v])
		vsIdle := "-"
		if idle.p99 > 0 {
			vsIdle = fmt.Sprintf("%.1f×", float64(l.p99)/float64(idle.p99))
		}
		wall := "-"
		if len(walls[v]) > 0 {
			wall = middle(walls[v]).Round(time.Millisecond).String()
		}
		fmt.Printf("| %s | %d | %s | %d | %d | %s | %s | %s | %s |\n", variantTitle(v), len(samplers[v]), wall, l.ops, l.errs,
			ms(l.p50), ms(l.p99), ms(l.maxL), vsIdle)
		note := ""
		if l.firstErr != "" {
			note += " first error: " + l.firstErr + ";"
		}
		if s := topStates(samplers[v], 6); s != "" {
			note += " sessions seen " + s
		}
		if note != "" {
			waits = append(waits, "- "+variantTitle(v)+":"+note)
		}
	}
	if len(waits) > 0 {
		fmt.Printf("\nWhat the sessions were doing (sampled every 200 ms while the variant ran):\n%s\n", strings.Join(waits, "\n"))
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}
