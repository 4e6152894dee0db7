// Command cleartokens-bench compares, on identical copies of a DOT 3.0.1
// database: (a) cleanup.Clear, oauthkit's batched cleaner; (b) DOT's own
// query pattern reproduced in Go (its trace is in
// store/sqlstore/sqlstoretest/testdata); and (c) the floor: per step the
// plain statements a DBA would type, each in autocommit (the SET_NULL
// UPDATE first, then one DELETE). Each run is a child process on a fresh,
// identically seeded copy, so its peak RSS is its own; the variants run in
// the order given (a,c,c,a by default, so neither side gets the warmer
// cache) and each is reported by its median.
//
//	go run ./internal/bench/cleartokens -db postgres -n 100000,1000000
//	go run ./internal/bench/cleartokens -db sqlite -n 1000000 -order a,c,c,a,b
//	go run ./internal/bench/cleartokens -db mysql -n 100000 -order a,c,c,a,b
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/postgres"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"
	"github.com/oauthkit/oauthkit/store/sqlstore/sqlstoretest"
)

var batchSize = 10000

var expire = 24 * time.Hour

// batchInterval is the pause after each batch of the variants named …-i.
var batchInterval = 100 * time.Millisecond

// rowRate is the MaxRowsPerSecond of the variants named …-r.
var rowRate = 20000

// stepTime is one step of one run.
type stepTime struct {
	Name    string        `json:"name"`
	Deleted int64         `json:"deleted"`
	Elapsed time.Duration `json:"elapsed"`
}

type result struct {
	Variant string        `json:"variant"`
	Deleted int64         `json:"deleted"`
	Elapsed time.Duration `json:"elapsed"`
	Steps   []stepTime    `json:"steps"`
	MaxRSS  int64         `json:"max_rss_kb"`
	Left    string        `json:"left"`
}

func main() {
	dbKind := flag.String("db", "postgres", "database: postgres, sqlite or mysql")
	journal := flag.String("sqlite-journal", "delete", "journal mode of the SQLite copies: delete (rollback journal, as Django leaves a database) or wal")
	ns := flag.String("n", "100000,1000000", "comma-separated numbers of access tokens to seed")
	order := flag.String("order", "", "variants to run, in this order (each on a fresh copy): a (oauthkit), a2 (oauthkit with 2 workers), b (DOT's pattern), c (floor), cli (the floor through the sqlite3 command line), a-id (oauthkit walking by primary key), a-lock (oauthkit holding the single-runner lock, every batch fenced by it), a-i and a2-i (with -batch-interval), a-r and a2-r (with -max-rows-per-second); default c,a,a2,c,a,a2 (SQLite: c,a,cli,c,a,cli)")
	shapeList := flag.String("shape", "mix,spread,backlog,neglected", "data shapes to seed, each run on its own copies: "+shapeNames())
	layoutList := flag.String("layout", "3.0.1,3.4.1", "DOT layouts to seed (3.0.1 runs rules dot-3.3, 3.4.1 runs dot-3.4)")
	pg := flag.String("postgres", envOr("OAUTHKIT_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"), "PostgreSQL URL (a database where the user may create schemas)")
	my := flag.String("mysql", envOr("OAUTHKIT_TEST_MYSQL", "mysql://root@127.0.0.1:3306/test"), "MySQL/MariaDB URL (a user who may create databases)")
	dir := flag.String("dir", os.TempDir(), "folder for the SQLite copies")
	flag.IntVar(&batchSize, "batch-size", batchSize, "CLEAR_EXPIRED_TOKENS_BATCH_SIZE of oauthkit's runs and DOT's pattern")
	child := flag.String("child", "", "internal: run one variant against -url")
	flag.DurationVar(&batchInterval, "batch-interval", batchInterval, "the pause after each batch in the variants a-i and a2-i")
	flag.IntVar(&rowRate, "max-rows-per-second", rowRate, "the rate limit of the variants a-r and a2-r")
	load := flag.Float64("load", 0, "also measure live traffic: play a DOT server at this many operations a second beside each of -load-order (0: no load runs)")
	loadConns := flag.Int("load-conns", 4, "connections the load uses")
	loadOrder := flag.String("load-order", "idle,b,c,a,a2,a-i,a2-i", "variants to run beside the load, each on a fresh copy (idle: the load alone); SQLite has no a2")
	loadShape := flag.String("load-shape", "spread", "data shape of the load runs' copies")
	loadLayout := flag.String("load-layout", "3.4.1", "DOT layout of the load runs' copies")
	loadN := flag.Int("load-n", 1000000, "access-token slots of the load runs' copies")
	idleFor := flag.Duration("idle-for", 30*time.Second, "how long the load alone is measured")
	timing := flag.Bool("timing", true, "run the timing matrix (-n × -shape × -layout); false runs only the load runs")
	childURL := flag.String("url", "", "internal")
	childRules := flag.String("rules", string(cleanup.RulesDOT33), "internal")
	flag.BoolVar(&settleInChild, "settle", true, "internal: settle the copy before the run")
	flag.BoolVar(&takeLock, "lock", false, "internal: oauthkit's variants take the single-runner lock, as the command does")
	nowFlag := flag.String("now", "", "internal")
	seedOnly := flag.Bool("seed-only", false, "seed one copy of the first -n, print its URL and keep it (to study a plan by hand; drop it yourself)")
	flag.Parse()
	if *child != "" {
		now, _ := time.Parse(time.RFC3339Nano, *nowFlag)
		if err := runChild(*child, *childURL, cleanup.Rules(*childRules), now); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	var target copier
	switch *dbKind {
	case "postgres":
		target = postgresCopies{base: *pg}
	case "sqlite":
		if *journal != "delete" && *journal != "wal" {
			fmt.Fprintf(os.Stderr, "-sqlite-journal %q: want delete or wal\n", *journal)
			os.Exit(2)
		}
		target = sqliteCopies{dir: *dir, journal: *journal}
	case "mysql":
		target = mysqlCopies{base: *my}
	default:
		fmt.Fprintf(os.Stderr, "-db %q: want postgres, sqlite or mysql\n", *dbKind)
		os.Exit(2)
	}
	if *order == "" {
		*order = "c,a,a2,c,a,a2"
		if *dbKind == "sqlite" {
			*order = "c,a,cli,c,a,cli" // one writer: no a2
		}
	}
	var runShapes []shape
	for _, name := range strings.Split(*shapeList, ",") {
		sh, err := shapeNamed(strings.TrimSpace(name))
		if err != nil {
			fmt.Fprintf(os.Stderr, "-shape: %v\n", err)
			os.Exit(2)
		}
		runShapes = append(runShapes, sh)
	}
	var layouts []sqlstoretest.Layout
	for _, l := range strings.Split(*layoutList, ",") {
		switch l = strings.TrimSpace(l); l {
		case string(sqlstoretest.DOT301), string(sqlstoretest.DOT341):
			layouts = append(layouts, sqlstoretest.Layout(l))
		default:
			fmt.Fprintf(os.Stderr, "-layout %q: want 3.0.1 or 3.4.1\n", l)
			os.Exit(2)
		}
	}
	// Whole seconds: SQLite's seeded text times then read as Django writes them.
	now := time.Now().UTC().Truncate(time.Second)
	variants := strings.Split(*order, ",")
	if *seedOnly {
		n, err := strconv.Atoi(strings.TrimSpace(strings.Split(*ns, ",")[0]))
		must(err)
		u, _ := target.seed(runShapes[0], layouts[0], n, now)
		fmt.Printf("%s\nnow=%s\n", u, now.Format(time.RFC3339Nano))
		return
	}
	kind := *dbKind
	if kind == "sqlite" {
		kind += " (journal mode " + *journal + ")"
	}
	fmt.Printf("cleartokens benchmark: %s, REFRESH_TOKEN_EXPIRE_SECONDS=86400, batch size %d, order %s, median of each\n",
		kind, batchSize, *order)
	var sum []summaryRow
	for _, s := range strings.Split(*ns, ",") {
		if !*timing {
			break
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		must(err)
		for _, sh := range runShapes {
			for _, l := range layouts {
				rules := rulesOf(l)
				fmt.Printf("\n## %s, N = %d, DOT %s layout, rules %s\n%s\n", sh.name, n, l, rules, sh.about)
				runs := map[string][]result{}
				for i, v := range variants {
					start := time.Now()
					u, drop := target.seed(sh, l, n, now)
					fmt.Fprintf(os.Stderr, "  %s %s [%d/%d] %s: seeded %d slots in %s\n", sh.name, l, i+1, len(variants), v, n, time.Since(start).Round(time.Millisecond))
					r := runVariant(v, u, rules, now)
					fmt.Fprintf(os.Stderr, "  %s %s [%d/%d] %s: %s, %d rows, left %s\n", sh.name, l, i+1, len(variants), v, r.Elapsed.Round(time.Millisecond), r.Deleted, r.Left)
					runs[v] = append(runs[v], r)
					drop()
				}
				sum = append(sum, report(n, runs, variants, sh.name, l))
			}
		}
	}
	if len(sum) > 0 {
		printSummary(sum, variants)
	}
	if *load > 0 {
		sh, err := shapeNamed(*loadShape)
		if err != nil {
			fmt.Fprintf(os.Stderr, "-load-shape: %v\n", err)
			os.Exit(2)
		}
		l := sqlstoretest.Layout(*loadLayout)
		if l != sqlstoretest.DOT301 && l != sqlstoretest.DOT341 {
			fmt.Fprintf(os.Stderr, "-load-layout %q: want 3.0.1 or 3.4.1\n", l)
			os.Exit(2)
		}
		var lo []string
		for _, v := range strings.Split(*loadOrder, ",") {
			if v = strings.TrimSpace(v); *dbKind == "sqlite" && strings.HasPrefix(v, "a2") {
				continue
			}
			lo = append(lo, v)
		}
		runLatency(target, latencyPlan{rate: *load, conns: *loadConns, sh: sh, layout: l, n: *loadN, order: lo, idleFor: *idleFor, warm: 5 * time.Second}, now)
	}
}

// rulesOf is the rule set a layout's DOT runs.
func rulesOf(l sqlstoretest.Layout) cleanup.Rules {
	if l == sqlstoretest.DOT301 {
		return cleanup.RulesDOT33
	}
	return cleanup.RulesDOT34
}

// report prints, per variant, the median run and, per step, its median
// time against the floor's.
func report(n int, runs map[string][]result, order []string, shapeName string, l sqlstoretest.Layout) summaryRow {
	var names []string
	for _, v := range order {
		if !slices.Contains(names, v) {
			names = append(names, v)
		}
	}
	med := map[string]result{}
	for _, v := range names {
		med[v] = median(runs[v])
	}
	floor, hasFloor := med["c"]
	row := summaryRow{shape: shapeName, layout: l, n: n, med: med, hasFloor: hasFloor}
	fmt.Printf("\nN = %d\n%-6s %4s %10s %10s %10s %8s %9s %7s  %s\n", n, "var", "runs", "deleted", "wall", "rows/s", "µs/row", "peak RSS", "vs (c)", "rows left")
	left := map[string]bool{}
	for _, v := range names {
		r := med[v]
		ratio := "-"
		if hasFloor {
			ratio = fmt.Sprintf("%.2fx", float64(r.Elapsed)/float64(floor.Elapsed))
		}
		peak := int64(0)
		for _, x := range runs[v] {
			peak = max(peak, x.MaxRSS)
			left[x.Left] = true
		}
		r.MaxRSS = peak // the summary shows the peak of every run
		row.med[v] = r
		fmt.Printf("%-6s %4d %10d %10s %10.0f %8.2f %7.1fMB %7s  %s\n", v, len(runs[v]), r.Deleted, r.Elapsed.Round(time.Millisecond),
			float64(r.Deleted)/r.Elapsed.Seconds(), float64(r.Elapsed.Microseconds())/float64(max(r.Deleted, 1)), float64(peak)/1024, ratio, r.Left)
	}
	if len(left) == 1 {
		fmt.Println("all runs left the same rows")
	} else {
		fmt.Println("THE RUNS LEFT DIFFERENT ROWS")
	}
	// Per step: each variant's median time, then (with a floor) the ratios.
	steps := floor.Steps
	if !hasFloor {
		steps = med[names[0]].Steps
	}
	fmt.Printf("per step (median):\n%-24s", "step")
	for _, v := range names {
		fmt.Printf(" %10s", v)
	}
	for _, v := range names {
		if hasFloor && v != "c" {
			fmt.Printf(" %9s", v+"/c")
		}
	}
	fmt.Println()
	for i, st := range steps {
		fmt.Printf("%-24s", st.Name)
		for _, v := range names {
			fmt.Printf(" %10s", stepMedian(runs[v], i).Round(time.Millisecond))
		}
		for _, v := range names {
			if hasFloor && v != "c" {
				fmt.Printf(" %8.2fx", float64(stepMedian(runs[v], i))/float64(stepMedian(runs["c"], i)))
			}
		}
		fmt.Println()
	}
	row.sameRows = len(left) == 1
	return row
}

// median is the variant's run whose wall time is the median; with an even
// number of runs its time is the mean of the middle two (with two runs,
// the lower one would be the best of two, not a median).
func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return int(a.Elapsed - b.Elapsed) })
	var ds []time.Duration
	for _, r := range s {
		ds = append(ds, r.Elapsed)
	}
	r := s[(len(s)-1)/2]
	r.Elapsed = middle(ds)
	return r
}

func stepMedian(rs []result, i int) time.Duration {
	var ds []time.Duration
	for _, r := range rs {
		if i < len(r.Steps) {
			ds = append(ds, r.Steps[i].Elapsed)
		}
	}
	return middle(ds)
}

// middle is the median of ds: the middle one, or the mean of the middle
// two; 0 for none.
func middle(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	n := len(ds)
	switch {
	case n == 0:
		return 0
	case n%2 == 1:
		return ds[n/2]
	default:
		return (ds[n/2-1] + ds[n/2]) / 2
	}
}

// settleInChild: the child settles the copy (PostgreSQL: a CHECKPOINT)
// before its clock starts; the load runs settle it before the load starts
// instead, so the checkpoint is not in what the load measures.
var settleInChild = true

// takeLock: oauthkit's variants take the single-runner lock as the
// command does (the load runs); the timing runs leave it to a-lock.
var takeLock bool

func runVariant(v, u string, rules cleanup.Rules, now time.Time) result {
	exe, err := os.Executable()
	must(err)
	cmd := exec.Command(exe, "-child", v, "-url", u, "-rules", string(rules), "-now", now.Format(time.RFC3339Nano), "-batch-size", strconv.Itoa(batchSize), "-batch-interval", batchInterval.String(), "-max-rows-per-second", strconv.Itoa(rowRate), "-lock="+strconv.FormatBool(takeLock), "-settle="+strconv.FormatBool(settleInChild))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		panic(fmt.Sprintf("variant %s: %v", v, err))
	}
	var r result
	must(json.Unmarshal(out, &r))
	r.MaxRSS = cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	return r
}

func runChild(v, u string, rules cleanup.Rules, now time.Time) error {
	ctx := context.Background()
	ds, err := sqlstore.ParseURL(u)
	if err != nil {
		return err
	}
	db := sqlx.MustOpen(string(ds.Dialect), ds.DSN)
	defer db.Close()
	d := dialectOf(ds.Dialect)
	if settleInChild {
		d.settle(db)
	}
	start := time.Now()
	var steps []stepTime
	base, paced := strings.CutSuffix(v, "-i")
	base, limited := strings.CutSuffix(base, "-r")
	switch base {
	case "a", "a2", "a-id", "a-lock":
		var opts []sqlstore.Option
		if base == "a-id" {
			opts = append(opts, sqlstore.WalkByPrimaryKey())
		}
		st, err := sqlstore.Open(ctx, u, opts...)
		if err != nil {
			return err
		}
		o := cleanup.Options{Store: st, Rules: rules, RefreshTokenExpire: expire, BatchSize: batchSize, Now: now, Lock: cleanup.LockNone}
		if paced {
			o.BatchInterval = batchInterval
		}
		if limited {
			o.MaxRowsPerSecond = rowRate
		}
		if takeLock {
			o.Lock = cleanup.LockSkip
		}
		switch base {
		case "a2":
			o.Workers = 2
		case "a-lock":
			o.Lock = cleanup.LockSkip
		}
		rep, err := cleanup.Clear(ctx, o)
		if err != nil {
			return err
		}
		for _, s := range rep.Steps {
			steps = append(steps, stepTime{Name: s.Name, Deleted: s.Deleted, Elapsed: s.Duration})
		}
		st.Close()
	case "b":
		steps = dotPattern(db, d, rules, now)
	case "c":
		steps = floor(db, d, rules, now)
	case "cli":
		if ds.Dialect != sqlstore.DialectSQLite {
			return fmt.Errorf("variant cli is SQLite's only")
		}
		steps = floorCLI(ds.Path, d, rules, now)
	default:
		return fmt.Errorf("unknown variant %q", v)
	}
	elapsed := time.Since(start)
	runtime.GC()
	var deleted int64
	for _, s := range steps {
		deleted += s.Deleted
	}
	var left []string
	for _, t := range []string{"accesstoken", "refreshtoken", "idtoken", "grant"} {
		var c int
		must(db.Get(&c, `SELECT count(*) FROM oauth2_provider_`+t))
		left = append(left, fmt.Sprintf("%s=%d", t, c))
	}
	var sources int
	must(db.Get(&sources, `SELECT count(*) FROM oauth2_provider_accesstoken WHERE source_refresh_token_id IS NOT NULL`))
	left = append(left, fmt.Sprintf("sourced=%d", sources))
	return json.NewEncoder(os.Stdout).Encode(result{Variant: v, Deleted: deleted, Elapsed: elapsed, Steps: steps, Left: strings.Join(left, " ")})
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}
