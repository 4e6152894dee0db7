// Command cleartokens removes expired and revoked OAuth tokens from a
// django-oauth-toolkit database, as DOT's `manage.py cleartokens` does.
// It only reads settings and flags and prints; the work is cleanup.Clear.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/store"
)

// settingFlags are DOT's setting names; each has a flag.
var settingFlags = []cli.SettingFlag{
	{Key: "DATABASE_URL", Flag: "database-url", Help: cli.DatabaseURLHelp},
	{Key: "REFRESH_TOKEN_EXPIRE_SECONDS", Flag: "refresh-token-expire-seconds", Help: "refresh token lifetime in `seconds`; unset or 0: refresh tokens never age-expire"},
	{Key: "REFRESH_TOKEN_GRACE_PERIOD_SECONDS", Flag: "refresh-token-grace-period-seconds", Help: "(dot-3.4 rules) `seconds` a revoked refresh token is kept (default 0)"},
	{Key: "REFRESH_TOKEN_REUSE_PROTECTION", Flag: "refresh-token-reuse-protection", Help: "(dot-3.4 rules) `true` keeps revoked refresh tokens until they expire (default false)"},
	{Key: "CLEAR_EXPIRED_TOKENS_BATCH_SIZE", Flag: "batch-size", Help: "most `rows` deleted per transaction (default 10000)"},
	{Key: "CLEAR_EXPIRED_TOKENS_BATCH_INTERVAL", Flag: "batch-interval", Help: "`seconds` to pause between batches, fractions allowed (default 0)"},
	{Key: "CLEARTOKENS_RULES", Flag: "rules", Help: "`rules` to apply: auto (by django_migrations), dot-3.3 or dot-3.4 (default auto)"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	var common cli.Common
	var createSchema, asJSON, wait, noLock bool
	var retries int
	var statementTimeout time.Duration
	var tables store.Tables

	fs := flag.NewFlagSet("cleartokens", flag.ContinueOnError)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, `Usage: cleartokens [flags]

Removes expired and revoked tokens from a django-oauth-toolkit database, in
batches, exactly as DOT's "manage.py cleartokens" does.

Every setting is read from the environment variable of DOT's name, then from
the --settings file, then from its flag (the last one found wins).

Flags:
`)
		cli.PrintFlags(fs, w)
		fmt.Fprintf(w, `
Exit status: 0 success, 1 failure (database, interrupted), 2 bad usage.
SIGINT or SIGTERM stops after the current batch and prints what was done.
`)
	}
	settingValues := cli.RegisterSettings(fs, settingFlags)
	fs.BoolVar(&createSchema, "create-schema", false, "create the DOT 3.4.1 tables where missing in the database named by DATABASE_URL")
	fs.BoolVar(&asJSON, "json", false, "print the report as one JSON object on stdout")
	fs.BoolVar(&wait, "wait", false, "when another cleartokens run holds the lock on these tables, wait for it instead of exiting 0 at once")
	fs.BoolVar(&noLock, "no-lock", false, "take no single-runner lock (only if you serialise runs yourself)")
	fs.IntVar(&retries, "retries", cleanup.DefaultRetries, "how often to retry a batch after a transient failure (deadlock, serialization failure, timeout, dropped connection); 0: never")
	fs.DurationVar(&statementTimeout, "statement-timeout", 0, "cancel and retry a batch that runs longer than `DURATION` (e.g. 30s); 0: no limit")
	fs.Var(cli.TableFlag{Tables: &tables}, "table", cli.TableHelp)
	common.Register(fs, false)

	prog := cli.NewOutput("cleartokens", stdout, stderr, cli.Common{NoColor: true})
	if err := cli.ParseFlags(fs, args, stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cli.ExitOK
		}
		return prog.Error(err, false)
	}
	if fs.NArg() > 0 {
		return prog.Error(cli.Usagef("unexpected argument %q (cleartokens takes only flags)", fs.Arg(0)), false)
	}
	out, code, done := common.Begin("cleartokens", stdout, stderr)
	if done {
		return code
	}
	settings, err := settingValues.Load(fs, getenv, common.Settings)
	if err != nil {
		return out.Error(err, common.Traceback)
	}
	opts, dbURL, err := options(settings)
	if err != nil {
		return out.Error(err, common.Traceback)
	}

	// The first signal stops the run after the batch in flight; a second
	// one ends the process at once (the open transaction is rolled back).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		<-again
		os.Exit(cli.ExitFailure)
	}()

	st, err := cli.OpenStore(ctx, cli.OpenParams{URL: dbURL, CreateSchema: createSchema, Tables: tables})
	if err != nil {
		return out.Error(err, common.Traceback)
	}
	defer st.Close()
	opts.Store = st
	switch {
	case wait && noLock:
		return out.Error(cli.Usagef("--wait and --no-lock cannot be used together"), false)
	case wait:
		opts.Lock = cleanup.LockWait
	case noLock:
		opts.Lock = cleanup.LockNone
	}
	if retries < 0 || statementTimeout < 0 {
		return out.Error(cli.Usagef("--retries and --statement-timeout must not be negative"), false)
	}
	opts.Retries = retries
	if retries == 0 {
		opts.Retries = -1
	}
	opts.StatementTimeout = statementTimeout
	if common.Verbosity >= 3 {
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	rep, err := cleanup.Clear(ctx, opts)
	if errors.Is(err, cleanup.ErrLocked) {
		// Another replica is doing the work: that is success for this one.
		if common.Verbosity >= 1 {
			out.Info("cleartokens: another cleartokens run holds the lock on these tables; nothing to do (--wait waits for it)")
		}
		if asJSON {
			fmt.Fprintln(stdout, `{"locked": true}`)
		}
		return cli.ExitOK
	}
	interrupted := errors.Is(err, cleanup.ErrInterrupted)
	if err != nil && !interrupted {
		return out.Error(err, common.Traceback)
	}
	report(out, rep, common.Verbosity, asJSON)
	if interrupted {
		out.Info(fmt.Sprintf("cleartokens: interrupted: stopped after a whole batch; %d rows deleted; run again to finish", rep.Deleted()))
		return cli.ExitFailure
	}
	return cli.ExitOK
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

func report(out *cli.Output, rep cleanup.Report, verbosity int, asJSON bool) {
	if verbosity >= 1 {
		for _, w := range rep.Warnings {
			out.Warn(w)
		}
	}
	if verbosity >= 2 {
		out.Info(fmt.Sprintf("Rules %s (%s); now %s", rep.Rules, rep.RulesReason, rep.Now.UTC().Format(time.RFC3339Nano)))
	}
	if asJSON {
		enc := json.NewEncoder(out.Stdout)
		enc.Encode(rep) //nolint:errcheck // nothing to do if stdout is gone
		return
	}
	for _, st := range rep.Steps {
		if st.Skipped {
			if verbosity >= 2 {
				out.Info(fmt.Sprintf("No %s: %s", strings.ToLower(st.Message[:1])+st.Message[1:], st.SkipReason))
			}
			continue
		}
		if verbosity >= 1 {
			out.Success(st.Line())
		}
		if verbosity >= 2 {
			out.Info(fmt.Sprintf("  %s: %d batches in %s", st.Name, st.Batches, st.Duration.Round(time.Millisecond)))
		}
	}
}
