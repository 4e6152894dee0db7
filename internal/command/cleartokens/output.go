package cleartokens

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/internal/cli"
)

// runOutput prints a run as it goes: the warnings and the rules line at
// its start, DOT's line for each step as that step ends (so a long run
// shows what is done), and the rest at its end; or, with --json, the
// report as one object at the end. A warning is said once per process
// (--every runs again and again).
type runOutput struct {
	out       *cli.Output
	verbosity int
	asJSON    bool
	bars      *progress
	warned    map[string]bool
}

func (r *runOutput) start(rep cleanup.Report) {
	r.bars.clear()
	if r.verbosity >= 1 {
		for _, w := range rep.Warnings {
			if !r.warned[w] {
				r.warned[w] = true
				r.out.Warn(w)
			}
		}
	}
	if r.verbosity >= 2 {
		r.out.Info(fmt.Sprintf("Rules %s (%s); now %s", rep.Rules, rep.RulesReason, rep.Now.UTC().Format(time.RFC3339Nano)))
	}
	if r.asJSON {
		return
	}
	if rep.DryRun && r.verbosity >= 1 {
		r.out.Info("Dry run: nothing was deleted; the counts are what a run now would delete.")
	}
	r.skipped(rep.Steps)
}

// skipped says, at -v 2, which steps do not run and why.
func (r *runOutput) skipped(steps []cleanup.StepReport) {
	if r.verbosity < 2 || r.asJSON {
		return
	}
	for _, st := range steps {
		if st.Skipped {
			r.out.Info(fmt.Sprintf("No %s: %s", strings.ToLower(st.Message[:1])+st.Message[1:], st.SkipReason))
		}
	}
}

func (r *runOutput) step(dryRun bool) func(cleanup.StepReport) {
	return func(st cleanup.StepReport) {
		if r.asJSON {
			return
		}
		r.bars.clear()
		if r.verbosity >= 1 {
			line := st.Line()
			if dryRun {
				line = fmt.Sprintf("%d %s (dry run)", st.Deleted, strings.Replace(st.Message, " deleted", " to delete", 1))
			}
			r.out.Success(line)
		}
		if r.verbosity >= 2 {
			r.out.Info(fmt.Sprintf("  %s: %d batches, %d retries, %s", st.Name, st.Batches, st.Retries, st.Duration.Round(time.Millisecond)))
		}
	}
}

// end prints what only the end knows: the report with --json, the steps
// the time budget skipped, that the budget stopped the run.
func (r *runOutput) end(rep cleanup.Report) {
	r.bars.done()
	if r.asJSON {
		json.NewEncoder(r.out.Stdout).Encode(rep) //nolint:errcheck // nothing to do if stdout is gone
		return
	}
	var budget []cleanup.StepReport
	for _, st := range rep.Steps {
		if st.Skipped && st.SkipReason == "the time budget was spent" {
			budget = append(budget, st)
		}
	}
	r.skipped(budget)
	if rep.StoppedEarly && r.verbosity >= 1 {
		r.out.Info("cleartokens: --max-duration reached: stopped after a whole batch; the next run goes on")
	}
}

// progress keeps a progress line on stderr: on a terminal one line
// redrawn in place at most five times a second, otherwise (--progress
// always) a line at most every second; as JSON records under
// --log-format json. Anything else written to stderr through wrap clears
// the line first and draws it again after, so the two never mix.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	inPlace bool
	out     *cli.Output // for JSON records
	json    bool
	line    string // what is drawn (in place)
	shown   bool
	last    time.Time
}

// newProgress returns nil when no progress is wanted.
func newProgress(w io.Writer, mode, logFormat string, verbosity int) *progress {
	tty := cli.IsTerminal(w)
	if verbosity == 0 || mode == "never" || (mode == "auto" && !tty) {
		return nil
	}
	return &progress{w: w, inPlace: tty && logFormat != "json", json: logFormat == "json"}
}

func (p *progress) onBatch(ev cleanup.BatchEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	every := time.Second
	if p.inPlace {
		every = 200 * time.Millisecond
	}
	if now := time.Now(); now.Sub(p.last) < every && ev.Fraction < 1 {
		return
	} else {
		p.last = now
	}
	elapsed := ev.StepDuration
	rate := float64(ev.StepDeleted) / max(elapsed.Seconds(), 1e-9)
	what := strings.TrimSuffix(ev.Message, " deleted")
	line := fmt.Sprintf("step %d/%d %s: %d deleted, %.0f rows/s, %s", ev.StepNumber, ev.Steps, what, ev.StepDeleted, rate, clock(elapsed))
	if ev.Fraction > 0 {
		line += fmt.Sprintf(", %.0f%%", 100*ev.Fraction)
		if ev.Fraction < 1 {
			line += ", about " + clock(time.Duration(float64(elapsed)*(1-ev.Fraction)/ev.Fraction)) + " left"
		}
	}
	switch {
	case p.json:
		p.out.Info("progress: " + line)
	case p.inPlace:
		fmt.Fprint(p.w, "\r\x1b[K"+line) // back to the start of the line, clear it
		p.line, p.shown = line, true
	default:
		fmt.Fprintln(p.w, "progress: "+line)
	}
}

// clock shows a duration as m:ss or h:mm:ss.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// clear removes the line kept in place (it is drawn again at the next
// batch), so that what follows starts on its own line.
func (p *progress) clear() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.shown = false
	}
}

// done ends the progress display.
func (p *progress) done() { p.clear() }

// wrap is w with the progress line cleared before each write and drawn
// again after it.
func (p *progress) wrap(w io.Writer) io.Writer {
	if p == nil || !p.inPlace {
		return w
	}
	return clearing{p: p, w: w}
}

type clearing struct {
	p *progress
	w io.Writer
}

func (c clearing) Write(b []byte) (int, error) {
	c.p.mu.Lock()
	defer c.p.mu.Unlock()
	if c.p.shown {
		fmt.Fprint(c.w, "\r\x1b[K")
	}
	n, err := c.w.Write(b)
	if c.p.shown {
		fmt.Fprint(c.w, c.p.line)
	}
	return n, err
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
