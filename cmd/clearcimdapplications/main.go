// Command clearcimdapplications: see package internal/command/clearcimdapplications, which holds its
// flags and output; the work is done by the library.
package main

import (
	"os"

	"github.com/oauthkit/oauthkit/internal/command/clearcimdapplications"
)

func main() { os.Exit(clearcimdapplications.Run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)) }
