// Package cli holds what the commands (cleartokens, createapplication,
// clearcimdapplications) share: Django's common options,
// settings read from the environment or a --settings file, colour, and the
// one-line error report.
package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/cleanup"
	"github.com/oauthkit/oauthkit/store"
	"golang.org/x/term"
)

// Exit statuses, as DOT users expect from a management command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
)

// UsageError marks bad input on the command line or in the settings: exit 2.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Usagef makes a UsageError.
func Usagef(format string, args ...any) error { return UsageError{fmt.Errorf(format, args...)} }

// Common are Django's management-command options that mean something here.
type Common struct {
	Verbosity  int
	Version    bool
	NoColor    bool
	ForceColor bool
	Traceback  bool
	Settings   string
	PythonPath string
	SkipChecks bool
}

// Register adds the common options to fs.
func (c *Common) Register(fs *flag.FlagSet) {
	fs.IntVar(&c.Verbosity, "verbosity", 1, "`LEVEL` of output: 0 quiet, 1 normal, 2 verbose, 3 very verbose (as Django's -v)")
	fs.IntVar(&c.Verbosity, "v", 1, "`LEVEL`: shorthand for --verbosity")
	fs.BoolVar(&c.Version, "version", false, "print the program's name and version and exit")
	fs.BoolVar(&c.NoColor, "no-color", false, "never colour the output")
	fs.BoolVar(&c.ForceColor, "force-color", false, "colour the output even when it is not a terminal")
	fs.BoolVar(&c.Traceback, "traceback", false, "on error, print the whole chain of causes, one per line")
	fs.StringVar(&c.Settings, "settings", "", "read settings from `FILE` of KEY=VALUE lines, # comments (environment < file < options); not a Django settings module (default none)")
	fs.StringVar(&c.PythonPath, "pythonpath", "", "`PATH`: Django's option; not applicable here (an error if given)")
	fs.BoolVar(&c.SkipChecks, "skip-checks", false, "skip the check that every table exists before starting")
}

// Check validates the common options.
func (c *Common) Check() error {
	if c.PythonPath != "" {
		return Usagef("--pythonpath is not applicable: oauthkit is not a Python program")
	}
	if c.Verbosity < 0 || c.Verbosity > 3 {
		return Usagef("--verbosity %d: want 0, 1, 2 or 3", c.Verbosity)
	}
	if c.NoColor && c.ForceColor {
		return Usagef("--no-color and --force-color cannot be used together")
	}
	return nil
}

// Version is what --version prints: the program's name, the module
// version from the build info ("v1.2.3" for `go install …@v1.2.3`), the
// VCS revision when the build recorded one, and the Go version.
func Version(prog string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return prog + " (unknown version)"
	}
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (rev " + s.Value[:12] + ")"
		}
	}
	return prog + " " + v + " " + bi.GoVersion
}

// djangoModule is a dotted Python module path such as mysite.settings.
var djangoModule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$`)

// fileExtension: "settings.env" is a missing file, not a module.
var fileExtension = regexp.MustCompile(`\.(env|conf|cfg|ini|txt|sh|properties|list)$`)

// Settings are named values from the environment, a settings file and flags.
type Settings struct {
	values map[string]string
	source map[string]string
}

// settingName is what a setting's name looks like; anything else on the
// left of a settings line is not echoed.
var settingName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// LoadSettings reads keys from the environment, then from file (if any).
func LoadSettings(keys []string, getenv func(string) string, file string) (*Settings, error) {
	s := &Settings{values: map[string]string{}, source: map[string]string{}}
	for _, k := range keys {
		if v := getenv(k); v != "" {
			s.values[k], s.source[k] = v, "environment variable "+k
		}
	}
	if file == "" {
		return s, nil
	}
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) && djangoModule.MatchString(file) && !fileExtension.MatchString(file) {
		return nil, Usagef("--settings %s looks like a Django settings module, which oauthkit cannot read (it runs no Python): "+
			"give the settings in the environment (DATABASE_URL=… REFRESH_TOKEN_EXPIRE_SECONDS=… cleartokens) or in a file of KEY=VALUE lines named by --settings", file)
	}
	if err != nil {
		return nil, Usagef("--settings: %w", err)
	}
	defer f.Close()
	known := map[string]bool{}
	for _, k := range keys {
		known[k] = true
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte-order mark, as some editors write
		}
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		if !ok {
			return nil, Usagef("%s:%d: want KEY=VALUE", file, n)
		}
		if !known[k] {
			if !settingName.MatchString(k) {
				// Not a name (a URL, say, that may hold a password): not echoed.
				return nil, Usagef("%s:%d: want KEY=VALUE with KEY one of %s", file, n, strings.Join(keys, ", "))
			}
			return nil, Usagef("%s:%d: unknown setting %q (known: %s)", file, n, k, strings.Join(keys, ", "))
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		s.values[k], s.source[k] = v, fmt.Sprintf("%s:%d", file, n)
	}
	if err := sc.Err(); err != nil {
		return nil, Usagef("--settings %s: %w", file, err)
	}
	return s, nil
}

// Override sets a value from a flag.
func (s *Settings) Override(key, flagName, value string) {
	s.values[key], s.source[key] = value, "--"+flagName
}

// Get returns a value and where it came from ("" when unset).
func (s *Settings) Get(key string) (string, string) { return s.values[key], s.source[key] }

// Seconds reads a non-negative number of seconds (fractions allowed); ok
// is false when unset.
func (s *Settings) Seconds(key string) (secs float64, ok bool, err error) {
	v, src := s.Get(key)
	if v == "" {
		return 0, false, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f != f {
		return 0, false, Usagef("%s=%q (from %s): want a number of seconds", key, v, src)
	}
	if f < 0 {
		return 0, false, Usagef("%s=%q (from %s): must not be negative", key, v, src)
	}
	if f > MaxSeconds {
		return 0, false, Usagef("%s=%q (from %s): at most %d seconds (100 years)", key, v, src, int64(MaxSeconds))
	}
	return f, true, nil
}

// MaxSeconds bounds a setting in seconds: 100 years, far beyond any
// lifetime or pause, and well inside what a Go duration holds (292 years).
const MaxSeconds = 100 * 365 * 24 * 3600.0

// Int reads a positive integer.
func (s *Settings) Int(key string) (int, bool, error) {
	v, src := s.Get(key)
	if v == "" {
		return 0, false, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, false, Usagef("%s=%q (from %s): want a positive whole number", key, v, src)
	}
	return n, true, nil
}

// Bool reads a boolean the way Python settings are usually written.
func (s *Settings) Bool(key string) (bool, error) {
	v, src := s.Get(key)
	switch strings.ToLower(v) {
	case "", "0", "false", "no", "off":
		return false, nil
	case "1", "true", "yes", "on":
		return true, nil
	}
	return false, Usagef("%s=%q (from %s): want true or false", key, v, src)
}

// Output writes results and diagnostics, coloured on a terminal as Django
// does. Each stream decides for itself: stdout's colour by whether stdout
// is a terminal, stderr's by whether stderr is (so "cleartokens >/dev/null"
// in a cron line puts no escapes into the error it mails).
type Output struct {
	Stdout, Stderr io.Writer
	// ColorOut and ColorErr say whether to colour what goes to each stream.
	ColorOut, ColorErr bool
	Prog               string
	// JSONLog (--log-format json) makes every line on stderr a JSON
	// record, as log/slog's JSON handler writes them: warnings and errors
	// too, so a log collector reads one format.
	JSONLog bool
	// JSONResult (--json) also writes an error as one JSON object on
	// stdout ({"error": …, "exit": N}), so a script reading stdout gets
	// an object whatever happened.
	JSONResult bool
	log        *slog.Logger
}

// record writes one JSON record on stderr.
func (o *Output) record(level slog.Level, msg string, args ...any) {
	if o.log == nil {
		o.log = slog.New(slog.NewJSONHandler(o.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	o.log.Log(context.Background(), level, msg, args...)
}

// IsTerminal reports whether w is a terminal (not merely a character
// device such as /dev/null).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// NewOutput decides on colour per stream: forced, refused (--no-color or
// NO_COLOR), or when the stream is a terminal.
func NewOutput(prog string, stdout, stderr io.Writer, c Common) *Output {
	o := &Output{Stdout: stdout, Stderr: stderr, Prog: prog}
	switch {
	case c.ForceColor:
		o.ColorOut, o.ColorErr = true, true
	case c.NoColor || os.Getenv("NO_COLOR") != "":
	default:
		o.ColorOut, o.ColorErr = IsTerminal(stdout), IsTerminal(stderr)
	}
	return o
}

func paint(on bool, code, s string) string {
	if !on {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Red paints s red when stderr is coloured (Django's ERROR style); it is
// for lines that go to stderr.
func (o *Output) Red(s string) string { return paint(o.ColorErr, "31", s) }

// Success prints a result line on stdout (green on a terminal).
func (o *Output) Success(s string) { fmt.Fprintln(o.Stdout, paint(o.ColorOut, "32", s)) }

// Warn prints a warning on stderr (yellow on a terminal).
func (o *Output) Warn(s string) {
	if o.JSONLog {
		o.record(slog.LevelWarn, s)
		return
	}
	fmt.Fprintln(o.Stderr, paint(o.ColorErr, "33", "Warning: "+s))
}

// Info prints a diagnostic on stderr.
func (o *Output) Info(s string) {
	if o.JSONLog {
		o.record(slog.LevelInfo, s)
		return
	}
	fmt.Fprintln(o.Stderr, s)
}

// Error prints err as one line on stderr (red on a terminal), or with
// traceback every cause on its own line, and returns the exit status.
func (o *Output) Error(err error, traceback bool) int {
	code := ExitFailure
	var ue UsageError
	if errors.As(err, &ue) {
		code = ExitUsage
	}
	msg := err.Error() + hint(err)
	if o.JSONResult {
		json.NewEncoder(o.Stdout).Encode(struct { //nolint:errcheck // nothing to do if stdout is gone
			Error string `json:"error"`
			Exit  int    `json:"exit"`
		}{msg, code})
	}
	if o.JSONLog {
		o.record(slog.LevelError, o.Prog+": error: "+msg, "exit", code)
		return code
	}
	fmt.Fprintln(o.Stderr, o.Red(o.Prog+": error: "+msg))
	if traceback {
		printCauses(o.Stderr, err, "  ")
	}
	return code
}

// printCauses walks the whole tree of wrapped errors, single (%w) and
// multiple (%w: %w, errors.Join) alike, but not below an error that hides
// its causes' text (a credential, a row's values).
func printCauses(w io.Writer, err error, indent string) {
	if h, ok := err.(interface{ HidesCauses() bool }); ok && h.HidesCauses() {
		return
	}
	var causes []error
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		causes = e.Unwrap()
	case interface{ Unwrap() error }:
		if c := e.Unwrap(); c != nil {
			causes = []error{c}
		}
	}
	for _, c := range causes {
		fmt.Fprintf(w, "%scaused by (%T): %v\n", indent, c, c)
		printCauses(w, c, indent+"  ")
	}
}

// PrintFlags lists fs's flags GNU-style ("--name VALUE"), as Django's help
// does, each with its default.
func PrintFlags(fs *flag.FlagSet, w io.Writer) {
	fs.VisitAll(func(f *flag.Flag) { printFlag(w, f) })
}

func printFlag(w io.Writer, f *flag.Flag) {
	dash := "--"
	if len(f.Name) == 1 {
		dash = "-"
	}
	name, usage := flag.UnquoteUsage(f)
	line := "  " + dash + f.Name
	if short, ok := shortOf[f.Name]; ok {
		line = "  -" + short + ", --" + f.Name
	}
	if name != "" {
		line += " " + name
	}
	if !strings.Contains(usage, "(default") && !isBool(f) && f.DefValue != "" && f.DefValue != "0" && f.DefValue != "0s" {
		usage += " (default " + f.DefValue + ")"
	}
	fmt.Fprintf(w, "%s\n      %s\n", line, usage)
}

// Group is a titled list of flags in --help, as argparse groups them.
type Group struct {
	Title string
	Flags []string
}

// CommonGroup is Django's common options, as every management command
// has them (-v and --verbosity on one line).
var CommonGroup = Group{"Django's common options", []string{"verbosity", "settings", "traceback", "no-color", "force-color", "skip-checks", "version"}}

// shortOf gives a flag's one-letter alias, shown on its line.
var shortOf = map[string]string{"verbosity": "v"}

// hidden are flags accepted but not shown: the alias shown with its long
// form, and Django's options that do not apply here.
var hidden = map[string]bool{"v": true, "pythonpath": true}

// PrintGroups prints fs's flags under the groups' titles, in the groups'
// order; a flag no group names (a mistake a test catches) comes last,
// under "Other options".
func PrintGroups(fs *flag.FlagSet, w io.Writer, groups []Group) {
	listed := map[string]bool{}
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g.Title)
		for _, name := range g.Flags {
			if f := fs.Lookup(name); f != nil {
				printFlag(w, f)
				listed[name] = true
			}
		}
	}
	var rest []*flag.Flag
	fs.VisitAll(func(f *flag.Flag) {
		if !listed[f.Name] && !hidden[f.Name] {
			rest = append(rest, f)
		}
	})
	if len(rest) > 0 {
		fmt.Fprintf(w, "\nOther options:\n")
		for _, f := range rest {
			printFlag(w, f)
		}
	}
}

// Begin checks the common options after parsing and answers --version.
// It returns the output to use and, when the command must stop here, the
// exit status with stop set.
func (c *Common) Begin(prog string, stdout, stderr io.Writer) (out *Output, code int, stop bool) {
	if err := c.Check(); err != nil {
		return nil, NewOutput(prog, stdout, stderr, Common{NoColor: true}).Error(err, false), true
	}
	out = NewOutput(prog, stdout, stderr, *c)
	if c.Version {
		fmt.Fprintln(stdout, Version(prog))
		return out, ExitOK, true
	}
	return out, 0, false
}

// OptionUsage turns the library's verdict on an option out of range
// (*cleanup.OptionError, naming a library field) into a usage error in
// the command's words: names maps each field to the flag or setting the
// user set it with. Other errors pass unchanged, but for one matching
// cleanup.ErrInvalidOptions, which is bad usage too.
func OptionUsage(err error, names map[string]string) error {
	var oe *cleanup.OptionError
	if errors.As(err, &oe) {
		name, ok := names[oe.Field]
		if !ok {
			name = oe.Field
		}
		value := oe.Value
		if d, isDuration := value.(time.Duration); isDuration && strings.HasSuffix(name, "_SECONDS") {
			value = strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
		}
		if value == nil {
			return UsageError{Err: fmt.Errorf("%s %s", name, oe.Problem)}
		}
		return UsageError{Err: fmt.Errorf("%s %v: %s", name, value, oe.Problem)}
	}
	if errors.Is(err, cleanup.ErrInvalidOptions) {
		return UsageError{Err: err}
	}
	return err
}

// hint is what the command's user can do about an error the library
// states in its own terms: the flag that helps, in this program's words.
func hint(err error) string {
	switch {
	case errors.Is(err, store.ErrLockUnavailable) && errors.Is(err, store.ErrMissingTable):
		return " (--create-schema creates the lease table, --table lock=NAME names another, --no-lock runs without the lock)"
	case errors.Is(err, store.ErrLockUnavailable):
		return " (--no-lock runs without the single-runner lock)"
	case errors.Is(err, store.ErrMissingTable):
		return " (--create-schema creates DOT's tables)"
	}
	return ""
}

// Doc describes a command once, for its --help, its man page and its
// shell completions, which are all made from it (so they cannot drift
// from the flags).
type Doc struct {
	Name, Synopsis, Summary string
	// Description and Exit are paragraphs of plain text.
	Description, Exit string
	Groups            []Group
	// Flags returns a fresh flag set as the command defines it.
	Flags func() *flag.FlagSet
}

// PrintHelp prints --help for the command's flag set fs.
func (d Doc) PrintHelp(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", d.Synopsis, d.Description)
	PrintGroups(fs, w, d.Groups)
	fmt.Fprintf(w, "\n%s\n", d.Exit)
}
