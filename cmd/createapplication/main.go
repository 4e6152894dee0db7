// Command createapplication: see package internal/command/createapplication, which holds its
// flags and output; the work is done by the library.
package main

import (
	"os"

	"github.com/oauthkit/oauthkit/internal/command/createapplication"
)

func main() { os.Exit(createapplication.Run(os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)) }
