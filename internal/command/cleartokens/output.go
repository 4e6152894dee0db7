package cleartokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/cli"
)

// report prints a run: DOT's lines on stdout (or the JSON report), and at
// higher verbosity the rules chosen, skipped steps and timings on stderr.
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
		json.NewEncoder(out.Stdout).Encode(rep) //nolint:errcheck // nothing to do if stdout is gone
		return
	}
	if rep.DryRun && verbosity >= 1 {
		out.Info("Dry run: nothing was deleted; the counts are what a run now would delete.")
	}
	for _, st := range rep.Steps {
		if st.Skipped {
			if verbosity >= 2 {
				out.Info(fmt.Sprintf("No %s: %s", strings.ToLower(st.Message[:1])+st.Message[1:], st.SkipReason))
			}
			continue
		}
		if verbosity >= 1 {
			line := st.Line()
			if rep.DryRun {
				line = fmt.Sprintf("%d %s (dry run)", st.Deleted, strings.Replace(st.Message, " deleted", " to delete", 1))
			}
			out.Success(line)
		}
		if verbosity >= 2 {
			out.Info(fmt.Sprintf("  %s: %d batches, %d retries, %s", st.Name, st.Batches, st.Retries, st.Duration.Round(time.Millisecond)))
		}
	}
	if rep.StoppedEarly && verbosity >= 1 {
		out.Info("cleartokens: --max-duration reached: stopped after a whole batch; the next run goes on")
	}
}

// progress keeps a progress line on stderr (per step: deleted so far,
// rate): on a terminal one line updated in place, otherwise a line per
// batch (with --progress always).
type progress struct {
	w       io.Writer
	inPlace bool
	shown   bool
}

// newProgress returns nil when no progress is wanted.
func newProgress(w io.Writer, mode string, verbosity int) *progress {
	tty := cli.IsTerminal(w)
	if verbosity == 0 || mode == "never" || (mode == "auto" && !tty) {
		return nil
	}
	return &progress{w: w, inPlace: tty}
}

func (p *progress) onBatch(ev cleanup.BatchEvent) {
	rate := float64(ev.StepDeleted) / max(ev.StepDuration.Seconds(), 1e-9)
	line := fmt.Sprintf("progress: %s: %d deleted, %.0f rows/s", ev.Step, ev.StepDeleted, rate)
	if p.inPlace {
		fmt.Fprint(p.w, "\r\x1b[K"+line) // back to the start of the line, clear it
		p.shown = true
		return
	}
	fmt.Fprintln(p.w, line)
}

// done ends the line kept in place, so what follows starts on its own.
func (p *progress) done() {
	if p != nil && p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// replicaWaitNotice says at -v 2 why the run pauses: once when a pause
// begins, then every ten seconds while it lasts.
func replicaWaitNotice(out *cli.Output, bars *progress, bound time.Duration) func(cleanup.ReplicaWaitEvent) {
	var last time.Duration = -1
	return func(ev cleanup.ReplicaWaitEvent) {
		if ev.Waited < last || last < 0 || ev.Waited-last >= 10*time.Second {
			bars.done()
			out.Info(fmt.Sprintf("cleartokens: %s: waiting: standby %s is %s behind (--max-replica-lag %s), %d bytes not replayed; waited %s",
				ev.Step, ev.Replica, ev.Lag.Round(10*time.Millisecond), bound, ev.BytesBehind, ev.Waited.Round(10*time.Millisecond)))
			last = ev.Waited
		}
	}
}

// logRun records a run of --every.
func logRun(l *slog.Logger, rep cleanup.Report, err error) {
	switch {
	case errors.Is(err, cleanup.ErrLocked):
		l.Info("skipped: another cleartokens run holds the lock")
	case err != nil:
		l.Error("run failed; trying again next time", "error", err.Error(), "deleted", rep.Deleted())
	default:
		args := []any{"deleted", rep.Deleted(), "duration_seconds", rep.Duration.Seconds(), "rules", string(rep.Rules)}
		for _, st := range rep.Steps {
			if !st.Skipped {
				args = append(args, st.Name, st.Deleted)
			}
		}
		l.Info("run finished", args...)
	}
}
