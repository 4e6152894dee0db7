package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"
)

// Parse reads args the way Django's argparse-based commands do, so that a
// cron line written for manage.py works: --name VALUE and --name=VALUE;
// -v 0, -v0 and -v=0 for one-letter options; any unique prefix of a long
// option (--skip-auth for --skip-authorization); options before, between
// and after positional arguments; "--" ends the options. It returns the
// positional arguments. --help prints the usage on stdout and returns
// flag.ErrHelp; anything wrong is one UsageError naming the option as it
// was typed, with a hint.
func Parse(fs *flag.FlagSet, args []string, stdout io.Writer) ([]string, error) {
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(positional, args[i+1:]...), nil
		}
		if len(arg) < 2 || arg[0] != '-' {
			positional = append(positional, arg)
			continue
		}
		typed, value, hasValue := splitOption(fs, arg)
		if wantsHelp(fs, typed) {
			fs.SetOutput(stdout)
			fs.Usage()
			return nil, flag.ErrHelp
		}
		name, err := resolve(fs, arg, typed)
		if err != nil {
			return nil, err
		}
		f := fs.Lookup(name)
		if isBool(f) {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, Usagef("%s needs a value%s (see --help)", optionText(arg), metavarHint(f))
			}
			if next := args[i+1]; isOption(fs, next) {
				// "--every --dry-run": the value was forgotten, not "--dry-run".
				return nil, Usagef("%s needs a value%s, not the option %s (give --%s=VALUE for a value that starts with -)", optionText(arg), metavarHint(f), next, name)
			}
			i++
			value = args[i]
		}
		if err := fs.Set(name, value); err != nil {
			return nil, UsageError{valueError(arg, f, value, err)}
		}
	}
	return positional, nil
}

// wantsHelp: -h, --help, or a prefix of --help that is no other option.
func wantsHelp(fs *flag.FlagSet, typed string) bool {
	if typed == "h" || typed == "help" {
		return true
	}
	return len(typed) > 1 && strings.HasPrefix("help", typed) && fs.Lookup(typed) == nil && len(matches(fs, typed)) == 0
}

// splitOption separates "--name=value", "-v0" and "-v=0" into the name as
// typed and the value.
func splitOption(fs *flag.FlagSet, arg string) (typed, value string, hasValue bool) {
	body := strings.TrimLeft(arg, "-")
	if name, v, ok := strings.Cut(body, "="); ok {
		return name, v, true
	}
	// -v0: a one-letter option with its value attached, as argparse reads it.
	if !strings.HasPrefix(arg, "--") && len(body) > 1 {
		if f := fs.Lookup(body[:1]); f != nil && !isBool(f) && fs.Lookup(body) == nil {
			return body[:1], body[1:], true
		}
	}
	return body, "", false
}

// resolve finds the option a typed name means: itself, or the one long
// option it is a unique prefix of.
func resolve(fs *flag.FlagSet, arg, typed string) (string, error) {
	if fs.Lookup(typed) != nil {
		return typed, nil
	}
	m := matches(fs, typed)
	switch {
	case len(m) == 0 || (len(typed) < 2 && !strings.HasPrefix(arg, "--")):
		return "", Usagef("unrecognized option %s (see --help)", optionText(arg))
	case len(m) > 1:
		for i := range m {
			m[i] = "--" + m[i]
		}
		return "", Usagef("ambiguous option %s: could be %s (see --help)", optionText(arg), strings.Join(m, ", "))
	}
	return m[0], nil
}

// matches lists the long options that begin with prefix.
func matches(fs *flag.FlagSet, prefix string) []string {
	var m []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) > 1 && strings.HasPrefix(f.Name, prefix) {
			m = append(m, f.Name)
		}
	})
	sort.Strings(m)
	return slices.Compact(m)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// optionText is the option as the user typed it, without its value.
func optionText(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}

func metavarHint(f *flag.Flag) string {
	if name, _ := flag.UnquoteUsage(f); name != "" && strings.Contains(f.Usage, "`") {
		return " (" + name + ")"
	}
	return ""
}

// valueError says what is wrong with a value, echoing it as typed, and
// what would be right.
func valueError(arg string, f *flag.Flag, value string, err error) error {
	opt := optionText(arg)
	if len(arg) > 1 && arg[1] != '-' && len(f.Name) == 1 {
		opt = "-" + f.Name // -v0
	}
	var want string
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			want = "not a duration: use h, m, s (and ms), e.g. 720h for 30 days, 90s, 1h30m"
		case int, int64, uint, uint64:
			want = "not a whole number"
		case float64:
			want = "not a number"
		case bool:
			want = "want true or false"
		}
	}
	if want == "" {
		want = err.Error()
		var ue UsageError
		if errors.As(err, &ue) {
			want = ue.Err.Error()
		}
	}
	return fmt.Errorf("%s %q: %s (see --help)", opt, value, want)
}

// isOption reports whether arg names one of fs's options (a negative
// number or a lone "-" does not).
func isOption(fs *flag.FlagSet, arg string) bool {
	if len(arg) < 2 || arg[0] != '-' {
		return false
	}
	typed, _, _ := splitOption(fs, arg)
	if wantsHelp(fs, typed) {
		return true
	}
	_, err := resolve(fs, arg, typed)
	return err == nil
}
