// Command testrun runs the project's tests as `go test` does and, at the
// end, lists every test that was skipped and why (a database or a tool
// that was not there), which plain `go test ./...` keeps to itself. It
// passes its arguments to go test (default: -timeout 30m ./...) and exits
// with go test's status.
//
//	go run ./internal/testrun
//	go run ./internal/testrun -run TestFaults ./cmd/...
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

// event is one line of go test -json (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"-timeout", "30m", "./..."}
	}
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testrun:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testrun: go test:", err)
		os.Exit(2)
	}
	skips := summarize(stdout, os.Stdout)
	err = cmd.Wait()
	printSkips(os.Stdout, skips)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
}

// skip is a skipped test and the reason it logged.
type skip struct{ pkg, test, reason string }

// summarize prints what go test prints without -json (a line per
// package; a failed test's output), and returns the skipped tests.
func summarize(r io.Reader, w io.Writer) []skip {
	output := map[string][]string{} // package/test → its output lines
	var skips []skip
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var ev event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: pass it on
			continue
		}
		key := ev.Package + "/" + ev.Test
		switch ev.Action {
		case "output":
			output[key] = append(output[key], ev.Output)
		case "skip":
			if ev.Test != "" {
				skips = append(skips, skip{ev.Package, ev.Test, reason(output[key])})
			} else {
				fmt.Fprintf(w, "?   \t%s\t[no test files]\n", ev.Package)
			}
			delete(output, key)
		case "fail":
			// A failed test's output, or a package's (build errors, panics).
			for _, line := range output[key] {
				fmt.Fprint(w, line)
			}
			delete(output, key)
		case "pass":
			if ev.Test == "" {
				fmt.Fprintf(w, "ok  \t%s\t%.3fs\n", ev.Package, ev.Elapsed)
			}
			delete(output, key)
		}
	}
	return skips
}

// reason is the last line a skipped test logged before its SKIP line.
func reason(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if l == "" || strings.HasPrefix(l, "--- SKIP") || strings.HasPrefix(l, "=== ") {
			continue
		}
		return l
	}
	return "(no reason given)"
}

func printSkips(w io.Writer, skips []skip) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "testrun: no test was skipped")
		return
	}
	sort.Slice(skips, func(i, j int) bool {
		if skips[i].pkg != skips[j].pkg {
			return skips[i].pkg < skips[j].pkg
		}
		return skips[i].test < skips[j].test
	})
	fmt.Fprintf(w, "testrun: %d tests skipped:\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(w, "  %s %s: %s\n", strings.TrimPrefix(s.pkg, "github.com/oauthkit/oauthkit/"), s.test, s.reason)
	}
}
