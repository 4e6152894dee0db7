// Package clearcimdapplications is the clearcimdapplications command
// (cmd/clearcimdapplications, and "oauthkit clearcimdapplications"): it
// deletes expired applications registered from a Client ID Metadata
// Document (CIMD) that hold no live tokens, as DOT 3.4.1's
// `manage.py clearcimdapplications` does. It only reads
// options and prints; the work is cleanup.ClearCIMDApplications.
package clearcimdapplications

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"encoding/json"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/store"
)

const prog = "clearcimdapplications"

type flags struct {
	common                      cli.Common
	tables                      store.Tables
	batchSize, retries          int
	dry, asJSON, wait, noLock   bool
	statementTimeout, lockLease time.Duration
}

// helpGroups order --help: DOT's own option and setting, Django's common
// options, then oauthkit's additions.
var helpGroups = []cli.Group{
	{Title: "DOT's options and settings", Flags: []string{"batch-size", "database-url"}},
	cli.CommonGroup,
	{Title: "oauthkit's additions", Flags: []string{"dry-run", "json", "wait", "no-lock", "lock-lease", "retries", "statement-timeout", "table"}},
}

// Doc describes the command for --help, its man page and completions.
var Doc = cli.Doc{
	Name:     "clearcimdapplications",
	Synopsis: "clearcimdapplications [flags]",
	Summary:  "remove expired CIMD-registered applications, as DOT 3.4.1's manage.py clearcimdapplications",
	Description: `Deletes expired CIMD-registered applications (registration_source "cimd",
cimd_expires_at in the past) that hold no live access token, ID token or
grant and no unrevoked refresh token, in batches, exactly as DOT 3.4.1's
"manage.py clearcimdapplications" does. CIMD rows are re-created on a
client's next request, so this only reclaims storage; run it beside
cleartokens. On a DOT older than 3.4 there is nothing to clean: it says
so and exits 0.`,
	Groups: helpGroups,
	Exit: `Exit status: 0 success (also when another run holds the lock, and on a
DOT without CIMD), 1 failure (database, interrupted), 2 bad usage.`,
	Flags: func() *flag.FlagSet { fs, _, _ := newFlagSet(); return fs },
}

// newFlagSet defines the command's flags, bound to fresh flags and
// settings.
func newFlagSet() (*flag.FlagSet, *flags, *cli.SettingFlags) {
	f := &flags{}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	settingValues := cli.RegisterSettings(fs, []cli.SettingFlag{cli.DatabaseURL})
	fs.IntVar(&f.batchSize, "batch-size", cleanup.DefaultCIMDBatchSize, "`N` applications locked and deleted per transaction")
	fs.BoolVar(&f.dry, "dry-run", false, "run every batch and roll it back: print what a run would delete, change nothing")
	fs.BoolVar(&f.asJSON, "json", false, "print the report as one JSON object on stdout (see README)")
	fs.Var(cli.TableFlag{Tables: &f.tables}, "table", cli.TableHelp)
	fs.BoolVar(&f.wait, "wait", false, "when another clearcimdapplications run holds the lock on these tables, wait for it instead of exiting 0 at once")
	fs.BoolVar(&f.noLock, "no-lock", false, "take no single-runner lock (only if you serialise runs yourself)")
	fs.DurationVar(&f.lockLease, "lock-lease", 0, cli.LockLeaseHelp)
	fs.IntVar(&f.retries, "retries", cleanup.DefaultRetries, "retry a batch after a transient failure up to `N` times; 0: never")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 0, "cancel and retry a batch that runs longer than `DURATION` (default 0: no limit)")
	f.common.Register(fs)
	return fs, f, settingValues
}

// Run runs the command with args (without the program name), reading
// settings through getenv, and returns its exit status.
func Run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs, f, settingValues := newFlagSet()
	fs.Usage = func() { Doc.PrintHelp(fs) }

	bare := cli.NewOutput(prog, stdout, stderr, cli.Common{NoColor: true})
	positional, err := cli.Parse(fs, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		return bare.Error(err, false)
	}
	if len(positional) > 0 {
		return bare.Error(cli.Usagef("unexpected argument %q: %s takes only options (see --help)", positional[0], prog), false)
	}
	out, code, done := f.common.Begin(prog, stdout, stderr)
	if done {
		return code
	}
	out.JSONResult = f.asJSON
	settings, err := settingValues.Load(fs, getenv, f.common.Settings)
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	opts, err := f.options()
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	// Warnings (a retried batch, a lock lost and taken again) show from
	// -v 1, the default; each batch from -v 3.
	switch {
	case f.common.Verbosity >= 3:
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case f.common.Verbosity >= 1:
		opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	ctx, stop := cli.SignalContext()
	defer stop()
	dbURL, _ := settings.Get("DATABASE_URL")
	st, err := cli.OpenStore(ctx, cli.OpenParams{URL: dbURL, SkipCheck: f.common.SkipChecks, Tables: f.tables, LockLease: f.lockLease,
		Notice: func(msg string) { out.Info("clearcimdapplications: " + msg) }})
	if err != nil {
		return out.Error(err, f.common.Traceback)
	}
	defer st.Close()
	opts.Store = st

	rep, err := cleanup.ClearCIMDApplications(ctx, opts)
	switch {
	case errors.Is(err, cleanup.ErrCIMDLocked):
		if f.common.Verbosity >= 1 {
			out.Info(prog + ": another clearcimdapplications run holds the lock on these tables; nothing to do (--wait waits for it)")
		}
		if f.asJSON {
			fmt.Fprintln(stdout, `{"locked": true}`)
		}
		return cli.ExitOK
	case errors.Is(err, store.ErrNoCIMD):
		// A DOT before 3.4 registers no CIMD clients: nothing to clean is
		// no failure, so one schedule serves every DOT.
		out.Info(prog + ": this database's django-oauth-toolkit has no CIMD registration (DOT 3.4 or later adds it): nothing to clean")
		if f.asJSON {
			fmt.Fprintln(stdout, `{"cimd": false, "deleted": 0}`)
		}
		return cli.ExitOK
	case errors.Is(err, cleanup.ErrInterrupted) && rep.Batches == 0 && rep.Now.IsZero():
		out.Info(prog + ": interrupted while waiting for the lock; nothing was deleted")
		return cli.ExitFailure
	case err != nil && !errors.Is(err, cleanup.ErrInterrupted):
		return out.Error(cli.OptionUsage(err, map[string]string{"CIMDOptions.Now": "now", "CIMDOptions.StatementTimeout": "--statement-timeout"}), f.common.Traceback)
	}
	if f.asJSON {
		json.NewEncoder(stdout).Encode(rep) //nolint:errcheck // nothing to do if stdout is gone
	} else {
		// DOT writes this line with self.stdout.write: every verbosity.
		out.Success(rep.Line())
	}
	if f.common.Verbosity >= 2 {
		out.Info(fmt.Sprintf("%d expired CIMD applications examined in %d batches, %d kept (live tokens or grants); with them went %d access, %d refresh and %d ID tokens and %d grants; %s",
			rep.Candidates, rep.Batches, rep.Kept, rep.AccessTokens, rep.RefreshTokens, rep.IDTokens, rep.Grants, rep.Duration.Round(time.Millisecond)))
	}
	if errors.Is(err, cleanup.ErrInterrupted) {
		out.Info(fmt.Sprintf("%s: interrupted: stopped after a whole batch; %d applications deleted; run again to finish", prog, rep.Deleted))
		return cli.ExitFailure
	}
	return cli.ExitOK
}

// options turns the flags into the library's options; it checks them
// before anything connects.
func (f *flags) options() (cleanup.CIMDOptions, error) {
	if f.batchSize < 1 {
		// DOT's own words.
		return cleanup.CIMDOptions{}, cli.Usagef("--batch-size must be a positive integer.")
	}
	o := cleanup.CIMDOptions{BatchSize: f.batchSize, DryRun: f.dry, StatementTimeout: f.statementTimeout}
	switch {
	case f.wait && f.noLock:
		return o, cli.Usagef("--wait and --no-lock cannot be used together")
	case f.wait:
		o.Lock = cleanup.LockWait
	case f.noLock:
		o.Lock = cleanup.LockNone
	}
	switch {
	case f.retries < 0:
		return o, cli.Usagef("--retries %d: must not be negative", f.retries)
	case f.retries == 0:
		o.Retries = cleanup.NoRetries
	default:
		o.Retries = f.retries
	}
	if f.statementTimeout < 0 {
		return o, cli.Usagef("--statement-timeout %s: must not be negative", f.statementTimeout)
	}
	return o, nil
}
