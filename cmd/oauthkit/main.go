// Command oauthkit is the three commands in one binary: "oauthkit
// cleartokens …", "oauthkit createapplication …" and "oauthkit
// clearcimdapplications …", and, invoked through a link of a command's
// name (cleartokens → oauthkit), that command itself. A package ships
// this one file and three links.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/oauthkit/oauthkit/internal/atomicfile"
	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/internal/command/clearcimdapplications"
	"github.com/oauthkit/oauthkit/internal/command/cleartokens"
	"github.com/oauthkit/oauthkit/internal/command/createapplication"
)

// commands run a command on the process's streams and environment.
var commands = map[string]struct {
	run     func(args []string) int
	summary string
}{
	"cleartokens": {func(a []string) int { return cleartokens.Run(a, os.Getenv, os.Stdout, os.Stderr) },
		"remove expired and revoked tokens, as DOT's manage.py cleartokens"},
	"createapplication": {func(a []string) int { return createapplication.Run(a, os.Getenv, os.Stdin, os.Stdout, os.Stderr) },
		"register a client application, as DOT's manage.py createapplication"},
	"clearcimdapplications": {func(a []string) int { return clearcimdapplications.Run(a, os.Getenv, os.Stdout, os.Stderr) },
		"remove expired CIMD-registered applications, as DOT 3.4.1's manage.py clearcimdapplications"},
}

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

func run(argv []string, stdout, stderr io.Writer) int {
	// Through a link named after a command: that command.
	name := strings.TrimSuffix(filepath.Base(argv[0]), ".exe")
	if c, ok := commands[name]; ok {
		return c.run(argv[1:])
	}
	if len(argv) < 2 {
		usage(stderr)
		return cli.ExitUsage
	}
	switch arg := argv[1]; arg {
	case "-h", "--help", "help":
		usage(stdout)
		return cli.ExitOK
	case "--version":
		fmt.Fprintln(stdout, cli.Version("oauthkit"))
		return cli.ExitOK
	case "completion":
		if len(argv) != 3 {
			fmt.Fprintln(stderr, "oauthkit: error: usage: oauthkit completion bash|zsh|fish")
			return cli.ExitUsage
		}
		if err := cli.WriteCompletion(stdout, argv[2], "oauthkit", docs); err != nil {
			fmt.Fprintln(stderr, "oauthkit: error:", err)
			return cli.ExitUsage
		}
		return cli.ExitOK
	case "man":
		if len(argv) != 3 {
			fmt.Fprintln(stderr, "oauthkit: error: usage: oauthkit man FOLDER")
			return cli.ExitUsage
		}
		if err := writeManPages(argv[2]); err != nil {
			fmt.Fprintln(stderr, "oauthkit: error:", err)
			return cli.ExitFailure
		}
		return cli.ExitOK
	default:
		if c, ok := commands[arg]; ok {
			return c.run(argv[2:])
		}
		fmt.Fprintf(stderr, "oauthkit: error: unknown command %q (see oauthkit --help)\n", arg)
		return cli.ExitUsage
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: oauthkit COMMAND [flags]\n\ndjango-oauth-toolkit's management commands for any OAuth2 server's database.\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-22s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, `
"oauthkit COMMAND --help" shows a command's flags. Invoked through a link named
after a command (cleartokens → oauthkit), oauthkit is that command.

  oauthkit completion bash|zsh|fish   print a shell completion script
  oauthkit man FOLDER                 write the man pages into FOLDER`)
}

// docs describe the commands, for man pages and completions.
var docs = []cli.Doc{cleartokens.Doc, createapplication.Doc, clearcimdapplications.Doc}

// writeManPages writes a page per command, and oauthkit.1, into dir,
// creating dir (as mkdir -p would) when it does not exist yet.
func writeManPages(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("man page folder: %w", err)
	}
	version := strings.TrimPrefix(strings.Fields(cli.Version("oauthkit"))[1], "v")
	pages := map[string]func(io.Writer){}
	for _, d := range docs {
		pages[d.Name+".1"] = func(w io.Writer) { d.WriteMan(w, version) }
	}
	pages["oauthkit.1"] = func(w io.Writer) {
		var b strings.Builder
		usage(&b)
		cli.Doc{Name: "oauthkit", Synopsis: "oauthkit COMMAND [flags]", Summary: "django-oauth-toolkit's management commands for any OAuth2 server's database",
			Description: strings.TrimSpace(b.String()), Exit: "The command's own.", Flags: func() *flag.FlagSet { return flag.NewFlagSet("oauthkit", flag.ContinueOnError) }}.WriteMan(w, version)
	}
	for name, write := range pages {
		var b strings.Builder
		write(&b)
		if err := atomicfile.Write(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}
