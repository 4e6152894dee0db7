package main

import (
	"fmt"
	"os"
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
func runLatency(target copier, p latencyPlan, now time.Time) {
	rules := rulesOf(p.layout)
	takeLock = true // as the command runs beside a live server
	fmt.Printf("\n## Live traffic beside each variant: %s, N = %d, DOT %s layout\n", p.sh.name, p.n, p.layout)
	fmt.Printf("The load plays a DOT server at %.0f operations a second on %d connections (4 in 10 lookups by checksum, 3 new token pairs, 2 refresh rotations, 1 revocation); latency counts from when each was due; oauthkit takes its single-runner lock, as the command does.\n\n", p.rate, p.conns)
	fmt.Printf("| variant | cleaner's wall | ops | errors | p50 | p99 | max | p99 / idle p99 |\n|---|---|---|---|---|---|---|---|\n")
	var idleP99 time.Duration
	var waits []string
	for i, v := range p.order {
		u, drop := target.seed(p.sh, p.layout, p.n, now)
		g, err := openLoad(u, p.layout, p.sh.slots(int64(p.n)), p.conns)
		must(err)
		w := newWaitSampler(u)
		stopLoad, stopSample := make(chan struct{}), make(chan struct{})
		var ops []op
		loaded := make(chan struct{})
		go func() { ops = g.run(p.rate, p.conns, stopLoad); close(loaded) }()
		time.Sleep(p.warm)
		sampled := make(chan struct{})
		go func() { w.run(stopSample); close(sampled) }()
		from := time.Now()
		wall := "-"
		if v == "idle" {
			time.Sleep(p.idleFor)
		} else {
			r := runVariant(v, u, rules, now)
			wall = r.Elapsed.Round(time.Millisecond).String()
		}
		to := time.Now()
		close(stopSample)
		<-sampled
		close(stopLoad)
		<-loaded
		l := summarize(ops, from, to)
		if v == "idle" {
			idleP99 = l.p99
		}
		vsIdle := "-"
		if idleP99 > 0 {
			vsIdle = fmt.Sprintf("%.1f×", float64(l.p99)/float64(idleP99))
		}
		fmt.Printf("| %s | %s | %d | %d | %s | %s | %s | %s |\n", variantTitle(v), wall, l.ops, l.errs,
			ms(l.p50), ms(l.p99), ms(l.maxL), vsIdle)
		fmt.Fprintf(os.Stderr, "  load [%d/%d] %s: p99 %s, %d/%d errors %s\n", i+1, len(p.order), v, ms(l.p99), l.errs, l.ops, l.firstErr)
		if l.firstErr != "" || w != nil {
			note := fmt.Sprintf("- %s:", variantTitle(v))
			if l.firstErr != "" {
				note += " first error: " + l.firstErr + ";"
			}
			if s := w.top(6); s != "" {
				note += " sessions seen " + s
			}
			waits = append(waits, note)
		}
		if w != nil {
			w.db.Close()
		}
		g.db.Close()
		drop()
	}
	if len(waits) > 0 {
		fmt.Printf("\nWhat the sessions were doing (sampled every 200 ms while the variant ran):\n%s\n", strings.Join(waits, "\n"))
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}
