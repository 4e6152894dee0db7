// Command cleartokens: see package internal/command/cleartokens, which holds its
// flags and output; the work is done by the library.
package main

import (
	"os"

	"github.com/oauthkit/oauthkit/internal/command/cleartokens"
)

func main() { os.Exit(cleartokens.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
