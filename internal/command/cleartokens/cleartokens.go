// Package cleartokens is the cleartokens command (cmd/cleartokens, and
// "oauthkit cleartokens"): it removes expired and revoked OAuth tokens
// from a django-oauth-toolkit database, as DOT's `manage.py cleartokens`
// does. It only reads settings and flags and prints; the work is
// cleanup.Clear.
package cleartokens

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/metrics"
	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// settingFlags are DOT's setting names; each has a flag.
var settingFlags = []cli.SettingFlag{
	cli.DatabaseURL,
	{Key: "REFRESH_TOKEN_EXPIRE_SECONDS", Flag: "refresh-token-expire-seconds", Help: "refresh token lifetime in `SECONDS`; unset or 0: refresh tokens never age-expire"},
	{Key: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS", Flag: "refresh-token-grace-period-seconds", Default: "0", Help: "(dot-3.4 rules) `SECONDS` a revoked refresh token is kept"},
	{Key: "REFRESH_TOKEN_REUSE_PROTECTION", Flag: "refresh-token-reuse-protection", Default: "false", Help: "(dot-3.4 rules) `BOOL`: true keeps revoked refresh tokens until they expire"},
	{Key: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE", Flag: "batch-size", Default: "10000", Help: "most `ROWS` deleted per transaction"},
	{Key: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL", Flag: "batch-interval", Default: "0", Help: "`SECONDS` to pause between batches, fractions allowed"},
	{Key: "CLEARTOKENS_RULES", Flag: "rules", Default: "auto", Help: "`RULES` to apply: auto (by django_migrations), dot-3.3 or dot-3.4"},
}

// helpGroups order --help as DOT's argparse would: DOT's settings,
// Django's common options, then oauthkit's additions by concern.
var helpGroups = []cli.Group{
	{Title: "DOT's settings", Flags: []string{"database-url", "refresh-token-expire-seconds", "refresh-token-grace-period-seconds", "refresh-token-reuse-protection", "batch-size", "batch-interval", "rules"}},
	cli.CommonGroup,
	{Title: "What to delete (oauthkit)", Flags: []string{"dry-run", "only", "before", "keep-if-younger"}},
	{Title: "Beside live traffic (oauthkit)", Flags: []string{"workers", "max-rows-per-second", "max-duration", "statement-timeout", "retries", "max-replica-lag"}},
	{Title: "The single-runner lock (oauthkit)", Flags: []string{"wait", "no-lock", "lock-lease"}},
	{Title: "Tables (oauthkit)", Flags: []string{"create-schema", "table"}},
	{Title: "Output and service (oauthkit)", Flags: []string{"json", "progress", "log-format", "every", "metrics-listen", "metrics-textfile"}},
}

// flags are the command's own flags beside DOT's settings.
type flags struct {
	common                                  cli.Common
	tables                                  store.Tables
	createSchema, asJSON, wait, noLock, dry bool
	retries, workers, maxRate               int
	statementTimeout, maxDuration           time.Duration
	maxReplicaLag, lockLease                time.Duration
	keepIfYounger, every                    time.Duration
	only, before, progress, logFormat       string
	metricsFile, metricsListen              string
}

func (f *flags) register(fs *flag.FlagSet) {
	fs.BoolVar(&f.createSchema, "create-schema", false, "create DOT 3.4.1's tables where missing in the database named by DATABASE_URL")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as one JSON object on stdout")
	fs.Var(cli.TableFlag{Tables: &f.tables}, "table", cli.TableHelp)
	fs.BoolVar(&f.dry, "dry-run", false, "count what each step would delete and delete nothing")
	fs.StringVar(&f.only, "only", "", "clean only these `KINDS`, comma separated: access, refresh, idtoken, grant, par (DOT main's pushed authorization requests) (default all, in DOT's order)")
	fs.StringVar(&f.before, "before", "", "use `TIME` as now (2026-01-31T12:00:00Z, '2026-01-31 12:00:00' or 2026-01-31; UTC unless a zone is given); not in the future (default the clock)")
	fs.DurationVar(&f.keepIfYounger, "keep-if-younger", 0, "keep tokens that expired less than `DURATION` ago (now minus DURATION), e.g. 720h for an audit window (default 0: none)")
	fs.DurationVar(&f.maxDuration, "max-duration", 0, "stop after the batch that crosses `DURATION` and exit 0 with the partial report; the next run goes on (default 0: no limit)")
	fs.BoolVar(&f.wait, "wait", false, "when another cleartokens run holds the lock on these tables, wait for it instead of exiting 0 at once")
	fs.BoolVar(&f.noLock, "no-lock", false, "take no single-runner lock (only if you serialise runs yourself)")
	fs.DurationVar(&f.lockLease, "lock-lease", 0, cli.LockLeaseHelp)
	fs.IntVar(&f.retries, "retries", cleanup.DefaultRetries, "how often to retry a batch after a transient failure (deadlock, serialization failure, timeout, dropped connection), `N` times; 0: never")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 0, "cancel and retry a batch that runs longer than `DURATION` (e.g. 30s) (default 0: no limit)")
	fs.IntVar(&f.workers, "workers", 1, "clean each step with `N` workers at once, on disjoint ranges of the table and separate connections (PostgreSQL, MySQL/MariaDB; SQLite takes one writer)")
	fs.IntVar(&f.maxRate, "max-rows-per-second", 0, "delete at most `N` rows a second, over all steps and workers, in batches of at most N/10 rows, so a busy server's own transactions do not feel the run (default 0: no limit)")
	fs.DurationVar(&f.maxReplicaLag, "max-replica-lag", 0, "before each batch, pause while a streaming standby of the PostgreSQL primary is more than `DURATION` behind (needs pg_monitor or a superuser to see the lag) (default 0: no throttle)")
	fs.DurationVar(&f.every, "every", 0, "run again every `DURATION` as a long-lived process, until SIGTERM; a failed run is logged and tried again next time (default 0: run once)")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "with --every, serve Prometheus metrics at http://`ADDR`/metrics (e.g. 127.0.0.1:9713, or :9713 on every interface) (default none)")
	fs.StringVar(&f.metricsFile, "metrics-textfile", "", "after each run, write Prometheus metrics to `PATH` (atomically), for node_exporter's textfile collector (default none)")
	fs.StringVar(&f.progress, "progress", "auto", "`WHEN` to show progress on stderr: auto (when stderr is a terminal), always, never")
	fs.StringVar(&f.logFormat, "log-format", "text", "`FORMAT` of log records on stderr: text or json")
	f.common.Register(fs)
}

// apply sets what the flags say on opts; the library checks the values.
func (f *flags) apply(o *cleanup.Options) error {
	switch {
	case f.metricsListen != "" && f.every == 0:
		return cli.Usagef("--metrics-listen serves metrics only in a long-lived process: give --every too (a single run can write --metrics-textfile)")
	case f.wait && f.noLock:
		return cli.Usagef("--wait and --no-lock cannot be used together")
	case f.wait:
		o.Lock = cleanup.LockWait
	case f.noLock:
		o.Lock = cleanup.LockNone
	}
	switch {
	case f.retries < 0:
		return cli.Usagef("--retries %d: must not be negative", f.retries)
	case f.retries == 0:
		o.Retries = cleanup.NoRetries
	default:
		o.Retries = f.retries
	}
	o.StatementTimeout, o.MaxDuration, o.DryRun, o.KeepIfYounger = f.statementTimeout, f.maxDuration, f.dry, f.keepIfYounger
	if f.workers == 0 {
		return cli.Usagef("--workers 0: want at least 1")
	}
	o.MaxReplicaLag, o.Workers, o.MaxRowsPerSecond = f.maxReplicaLag, f.workers, f.maxRate
	if f.only != "" {
		kinds, err := cleanup.ParseKinds(f.only)
		if err != nil {
			return usage(err)
		}
		o.Only = kinds
	}
	if f.before != "" {
		if f.keepIfYounger != 0 {
			return cli.Usagef("--before and --keep-if-younger both set now: give one")
		}
		t, err := parseTime(f.before)
		if err != nil {
			return err
		}
		o.Now = t
	}
	if f.progress != "auto" && f.progress != "always" && f.progress != "never" {
		return cli.Usagef("--progress %q: want auto, always or never", f.progress)
	}
	if f.logFormat != "text" && f.logFormat != "json" {
		return cli.Usagef("--log-format %q: want text or json", f.logFormat)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, cli.Usagef("--before %q: want a time like 2026-01-31T12:00:00Z, '2026-01-31 12:00:00' or 2026-01-31", s)
}

// Doc describes the command for --help, its man page and completions.
var Doc = cli.Doc{
	Name:     "cleartokens",
	Synopsis: "cleartokens [flags]",
	Summary:  "remove expired and revoked tokens, as DOT's manage.py cleartokens",
	Description: `Removes expired and revoked tokens from a django-oauth-toolkit database, in
batches, exactly as DOT's "manage.py cleartokens" does.

Every setting is read from the environment variable of DOT's name, then from
the --settings file, then from its flag (the last one found wins).`,
	Groups: helpGroups,
	Exit: `Exit status: 0 success (also when another run holds the lock, or --max-duration
stopped the run), 1 failure (database, interrupted), 2 bad usage.
SIGINT or SIGTERM stops after the current batch and prints what was done.`,
	Flags: func() *flag.FlagSet { fs, _, _ := newFlagSet(); return fs },
}

// newFlagSet defines the command's flags, bound to a fresh flags and
// settings.
func newFlagSet() (*flag.FlagSet, *flags, *cli.SettingFlags) {
	f := &flags{}
	fs := flag.NewFlagSet("cleartokens", flag.ContinueOnError)
	settingValues := cli.RegisterSettings(fs, settingFlags)
	f.register(fs)
	return fs, f, settingValues
}

// Run runs the command with args (without the program name), reading
// settings through getenv, and returns its exit status.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, f, settingValues := newFlagSet()
	fs.Usage = func() { Doc.PrintHelp(fs) }

	prog := cli.NewOutput("cleartokens", stdout, stderr, cli.Common{NoColor: true})
	positional, err := cli.Parse(fs, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		return prog.Error(err, false)
	}
	if len(positional) > 0 {
		return prog.Error(cli.Usagef("unexpected argument %q: cleartokens takes only options (see --help)", positional[0]), false)
	}
	out, code, done := f.common.Begin("cleartokens", stdout, stderr)
	if done {
		return code
	}
	out.JSONLog, out.JSONResult = f.logFormat == "json", f.asJSON
	settings, err := settingValues.Load(fs, getenv, f.common.Settings)
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	opts, dbURL, err := options(settings)
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	if err := f.apply(&opts); err != nil {
		return out.Error(err, f.common.Traceback)
	}
	check := opts.Validate()
	if f.every != 0 {
		check = cleanup.ValidateEvery(f.every, opts)
	}
	if check != nil {
		return out.Error(usage(check), f.common.Traceback)
	}
	// Progress on stderr; everything else written there clears its line
	// first (bars.wrap).
	bars := newProgress(stderr, f.progress, f.logFormat, f.common.Verbosity)
	if bars != nil {
		bars.out = out
		opts.OnBatch = bars.onBatch
		out.Stderr = bars.wrap(stderr)
	}
	// Warnings (a retried batch, a lock lost and taken again) show from
	// -v 1, the default; each batch from -v 3.
	logger := newLogger(out.Stderr, f.logFormat, f.common.Verbosity)
	if f.common.Verbosity >= 1 {
		opts.Logger = logger
	}
	ro := &runOutput{out: out, verbosity: f.common.Verbosity, asJSON: f.asJSON, bars: bars, warned: map[string]bool{}}
	opts.OnStart, opts.OnStep = ro.start, ro.step(opts.DryRun)
	if f.common.Verbosity >= 2 {
		opts.OnReplicaWait = replicaWaitNotice(out, bars, f.maxReplicaLag)
	}

	// The first signal stops the run after the batch in flight; a second
	// one ends the process at once.
	ctx, stop := cli.SignalContext()
	defer stop()

	// The metrics file is checked (NewTextfile) before anything connects.
	collector := metrics.NewCollector("oauthkit_cleartokens")
	textfile, err := newTextfile(f.metricsFile, dbURL, collector)
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	st, err := cli.OpenStore(ctx, cli.OpenParams{URL: dbURL, CreateSchema: f.createSchema, SkipCheck: f.common.SkipChecks, Tables: f.tables, LockLease: f.lockLease,
		Notice: func(msg string) { out.Info("cleartokens: " + msg) }})
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	defer st.Close()
	opts.Store = st
	// record observes a run and writes the metrics file; it reports a file
	// that cannot be written (the run then fails: monitoring would miss it).
	record := func(rep cleanup.Report, err error) error {
		if errors.Is(err, cleanup.ErrLocked) {
			return nil // a skipped run says nothing about the tables
		}
		collector.Observe(runMetrics(rep, err))
		if textfile == nil {
			return nil
		}
		if werr := textfile.Write(); werr != nil {
			return fmt.Errorf("--metrics-textfile: %w", werr)
		}
		return nil
	}

	if f.every != 0 {
		if f.metricsListen != "" {
			srv, err := metrics.Serve(f.metricsListen, collector)
			if err != nil {
				return out.Error(fmt.Errorf("--metrics-listen: %w", err), f.common.Traceback)
			}
			defer srv.Close()
			logger.Info("serving metrics", "url", "http://"+srv.Addr()+"/metrics")
		}
		// A long-lived process: log each run, keep going after failures.
		// A warning is said once per process, not at every run (ro).
		err := cleanup.RunEvery(ctx, f.every, opts, func(rep cleanup.Report, err error) {
			bars.done()
			if werr := record(rep, err); werr != nil {
				logger.Error("cannot write the metrics file", "error", werr.Error())
			}
			if errors.Is(err, cleanup.ErrInterrupted) {
				// A signal: a clean stop after a whole batch, not a failure.
				logger.Info("stopping: signal received; stopped after a whole batch", "deleted", rep.Deleted())
				return
			}
			logRun(logger, rep, err)
			if err == nil {
				ro.end(rep)
			}
		})
		if errors.Is(err, context.Canceled) {
			logger.Info("stopping: signal received")
			return cli.ExitOK
		}
		return out.Error(usage(err), f.common.Traceback)
	}

	rep, err := cleanup.Clear(ctx, opts)
	bars.done()
	if werr := record(rep, err); werr != nil && err == nil {
		ro.end(rep)
		return out.Error(werr, f.common.Traceback)
	}
	if errors.Is(err, cleanup.ErrLocked) {
		// Another replica is doing the work: that is success for this one.
		if f.common.Verbosity >= 1 {
			out.Info("cleartokens: another cleartokens run holds the lock on these tables; nothing to do (--wait waits for it)")
		}
		if f.asJSON {
			fmt.Fprintln(stdout, `{"locked": true}`)
		}
		return cli.ExitOK
	}
	interrupted := errors.Is(err, cleanup.ErrInterrupted)
	if err != nil && !interrupted {
		return out.Error(usage(err), f.common.Traceback)
	}
	if interrupted && rep.Rules == "" {
		// Stopped before any step began (while waiting for the lock).
		out.Info("cleartokens: interrupted while waiting for the lock; nothing was deleted")
		return cli.ExitFailure
	}
	ro.end(rep)
	if interrupted {
		out.Info(fmt.Sprintf("cleartokens: interrupted: stopped after a whole batch; %d rows deleted; run again to finish", rep.Deleted()))
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// optionNames says, for each library field, the setting or flag that sets it.
var optionNames = map[string]string{
	"Options.BatchSize":               "CLEAR_EXPIRED_TOKENS_BATCH_SIZE",
	"Options.BatchInterval":           "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL",
	"Options.RefreshTokenExpire":      "REFRESH_TOKEN_EXPIRE_SECONDS",
	"Options.RefreshTokenGracePeriod": "REFRESH_TOKEN_GRACE_PERIOD_SECONDS",
	"Options.Workers":                 "--workers",
	"Options.MaxReplicaLag":           "--max-replica-lag",
	"Options.MaxRowsPerSecond":        "--max-rows-per-second",
	"Options.MaxDuration":             "--max-duration",
	"Options.KeepIfYounger":           "--keep-if-younger",
	"Options.Now":                     "--before",
	"Options.StatementTimeout":        "--statement-timeout",
	"Options.Only":                    "--only",
	"interval":                        "--every",
}

// usage says the library's verdict on bad options in the command's words
// (exit 2).
func usage(err error) error { return cli.OptionUsage(err, optionNames) }

func runMetrics(rep cleanup.Report, err error) metrics.Run {
	r := metrics.Run{DryRun: rep.DryRun, StoppedEarly: rep.StoppedEarly, Duration: rep.Duration, Failed: err != nil,
		ReplicaPauses: rep.ReplicaPauses, ReplicaWait: rep.ReplicaWait}
	for _, st := range rep.Steps {
		if !st.Skipped {
			r.Steps = append(r.Steps, metrics.Step{Name: st.Name, Deleted: st.Deleted})
		}
	}
	return r
}

// options turns settings into cleanup.Options and the database URL.
func options(s *cli.Settings) (cleanup.Options, string, error) {
	var o cleanup.Options
	if secs, ok, err := s.Seconds("REFRESH_TOKEN_EXPIRE_SECONDS"); err != nil {
		return o, "", err
	} else if ok {
		o.RefreshTokenExpire = seconds(secs)
	}
	if secs, ok, err := s.Seconds("REFRESH_TOKEN_GRACE_PERIOD_SECONDS"); err != nil {
		return o, "", err
	} else if ok {
		o.RefreshTokenGracePeriod = seconds(secs)
	}
	reuse, err := s.Bool("REFRESH_TOKEN_REUSE_PROTECTION")
	if err != nil {
		return o, "", err
	}
	o.RefreshTokenReuseProtection = reuse
	if n, ok, err := s.Int("CLEAR_EXPIRED_TOKENS_BATCH_SIZE"); err != nil {
		return o, "", err
	} else if ok {
		o.BatchSize = n
	}
	if secs, ok, err := s.Seconds("CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL"); err != nil {
		return o, "", err
	} else if ok {
		o.BatchInterval = seconds(secs)
	}
	rules, src := s.Get("CLEARTOKENS_RULES")
	r, err := cleanup.ParseRules(rules)
	if err != nil {
		return o, "", cli.Usagef("CLEARTOKENS_RULES=%q (from %s): want auto, dot-3.3 or dot-3.4", rules, src)
	}
	o.Rules = r
	url, _ := s.Get("DATABASE_URL")
	return o, url, nil
}

func seconds(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }

func newLogger(w io.Writer, format string, verbosity int) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case verbosity >= 3:
		level = slog.LevelDebug
	case verbosity == 0:
		level = slog.LevelError
	}
	o := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, o))
	}
	return slog.New(slog.NewTextHandler(w, o))
}

// newTextfile is the --metrics-textfile (nil without one). It refuses a
// path that is not a regular file (a device, a FIFO, a link: it would be
// replaced, or block the run; metrics.NewTextfile says so) or that is the
// SQLite database itself.
func newTextfile(path, dbURL string, c *metrics.Collector) (*metrics.Textfile, error) {
	if path == "" {
		return nil, nil
	}
	if err := sameAsDatabase(path, dbURL); err != nil {
		return nil, err
	}
	t, err := metrics.NewTextfile(path, c)
	if err != nil {
		return nil, cli.UsageError{Err: fmt.Errorf("--metrics-textfile: %w", err)}
	}
	return t, nil
}

// sameAsDatabase refuses a metrics path that is the SQLite database file.
func sameAsDatabase(path, dbURL string) error {
	if dbURL == "" {
		dbURL = cli.DefaultDatabaseURL
	}
	ds, err := sqlstore.ParseURL(dbURL)
	if err != nil || ds.Path == "" {
		return nil // not SQLite; a bad URL is reported when it is opened
	}
	a, errA := os.Stat(path)
	b, errB := os.Stat(ds.Path)
	if errA == nil && errB == nil && os.SameFile(a, b) {
		return cli.Usagef("--metrics-textfile %s is the database file: it would be replaced", path)
	}
	return nil
}
