// Package createapplication is the createapplication command
// (cmd/createapplication, and "oauthkit createapplication"): it registers
// an OAuth client application in a django-oauth-toolkit database, as
// DOT's `manage.py createapplication` does. It only reads arguments and settings and prints; the work is
// application.CreateApplication.
package createapplication

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/internal/cli"
	"github.com/oauthkit/oauthkit/store"
)

var settingFlags = []cli.SettingFlag{
	cli.DatabaseURL,
	{Key: "ALLOWED_REDIRECT_URI_SCHEMES", Flag: "allowed-redirect-uri-schemes", Default: "http https", Help: "`SCHEMES` a redirect URI may use, space or comma separated"},
	{Key: "ALLOW_URI_WILDCARDS", Flag: "allow-uri-wildcards", Default: "false", Help: "`BOOL`: true allows a leading wildcard in redirect URI hosts (*.example.com)"},
	{Key: "CLIENT_SECRET_GENERATOR_LENGTH", Flag: "client-secret-length", Default: "128", Help: "`LENGTH` of a generated client secret"},
	{Key: "CLIENT_SECRET", Flag: "client-secret", Default: "generated", Help: "the `SECRET` of this application; prefer CLIENT_SECRET or --client-secret-file: an option shows in the process list"},
}

// oidcKeySetting is read from the environment or the settings file only:
// a private key does not belong on a command line (--oidc-rsa-private-key-file reads one from a file).
const oidcKeySetting = "OIDC_RSA_PRIVATE_KEY"

type options struct {
	common                                cli.Common
	clientID, user, redirectURIs, name    string
	postLogoutURIs, algorithm, secretFile string
	oidcKeyFile                           string
	noHash, skipAuth, asJSON              bool
	ifNotExists, createSchema             bool
	iterations                            int
	tables                                store.Tables
}

// helpGroups order --help as DOT's argparse does: DOT's options, DOT's
// settings, Django's common options, then oauthkit's additions.
var helpGroups = []cli.Group{
	{Title: "DOT's options", Flags: []string{"client-id", "user", "redirect-uris", "post-logout-redirect-uris", "client-secret", "name", "skip-authorization", "algorithm"}},
	{Title: "DOT's settings", Flags: []string{"database-url", "allowed-redirect-uri-schemes", "allow-uri-wildcards", "client-secret-length"}},
	cli.CommonGroup,
	{Title: "oauthkit's additions", Flags: []string{"client-secret-file", "no-hash-client-secret", "oidc-rsa-private-key-file", "hasher-iterations", "if-not-exists", "json", "create-schema", "table"}},
}

// Doc describes the command for --help, its man page and completions.
var Doc = cli.Doc{
	Name:     "createapplication",
	Synopsis: "createapplication [flags] client_type authorization_grant_type",
	Summary:  "register a client application, as DOT's manage.py createapplication",
	Description: `Registers an OAuth client application in a django-oauth-toolkit database,
exactly as DOT's "manage.py createapplication" does.

  client_type               ` + strings.Join(application.ClientTypes, " | ") + `
  authorization_grant_type  ` + strings.Join(application.GrantTypes, " | ") + `

Settings are read from the environment variable of DOT's name, then from the
--settings file, then from the flag (the last one found wins). An option given
as an empty string counts as not given.`,
	Groups: helpGroups,
	Exit:   "Exit status: 0 created (or, with --if-not-exists, already there), 1 failure (validation, database), 2 bad usage.",
	Flags:  func() *flag.FlagSet { fs, _, _ := newFlagSet(); return fs },
}

// newFlagSet defines the command's flags, bound to fresh options and
// settings.
func newFlagSet() (*flag.FlagSet, *options, *cli.SettingFlags) {
	o := &options{}
	fs := flag.NewFlagSet("createapplication", flag.ContinueOnError)
	settingValues := cli.RegisterSettings(fs, settingFlags, oidcKeySetting)
	fs.StringVar(&o.clientID, "client-id", "", "the `ID` of the new application (default 40 generated characters)")
	fs.StringVar(&o.user, "user", "", "the `ID` of the auth_user row that owns the application (default none)")
	fs.StringVar(&o.redirectURIs, "redirect-uris", "", "the redirect `URIS`, space separated: 'URI1 URI2' (default none)")
	fs.StringVar(&o.postLogoutURIs, "post-logout-redirect-uris", "", "the post-logout redirect `URIS`, space separated, validated like redirect URIs (default none)")
	fs.StringVar(&o.secretFile, "client-secret-file", "", "read the client secret from `PATH` (- for standard input); one trailing newline is dropped (default none)")
	fs.BoolVar(&o.noHash, "no-hash-client-secret", false, "store the client secret as given instead of hashing it (HS256 needs this)")
	fs.StringVar(&o.name, "name", "", "the `NAME` of the application (default none: DOT shows the client_id)")
	fs.BoolVar(&o.skipAuth, "skip-authorization", false, "bypass the authorization form, even on the application's first use")
	fs.StringVar(&o.algorithm, "algorithm", "", "the OIDC token signing `ALGORITHM`: RS256 or HS256 (default none)")
	fs.StringVar(&o.oidcKeyFile, "oidc-rsa-private-key-file", "", "read OIDC_RSA_PRIVATE_KEY (PEM), which RS256 needs, from `PATH` (default the setting from the environment or --settings)")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as one JSON object (see README)")
	fs.BoolVar(&o.ifNotExists, "if-not-exists", false, "with --client-id: succeed without change when that application exists with the same settings; fail when they differ")
	fs.IntVar(&o.iterations, "hasher-iterations", 0, "PBKDF2 `N` iterations for the hashed secret (default 1000000, Django 5.2's)")
	fs.BoolVar(&o.createSchema, "create-schema", false, "create DOT 3.4.1's tables where missing in the database named by DATABASE_URL")
	fs.Var(cli.TableFlag{Tables: &o.tables}, "table", cli.TableHelp)
	o.common.Register(fs)
	return fs, o, settingValues
}

// Run runs the command with args (without the program name), reading
// settings through getenv, and returns its exit status.
func Run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs, o, settingValues := newFlagSet()
	fs.Usage = func() { Doc.PrintHelp(fs) }

	positional, err := cli.Parse(fs, args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return cli.ExitOK
	}
	if err != nil {
		return cli.NewOutput("createapplication", stdout, stderr, cli.Common{NoColor: true}).Error(err, false)
	}
	out, code, stop := o.common.Begin("createapplication", stdout, stderr)
	if stop {
		return code
	}
	out.JSONResult = o.asJSON
	if len(positional) < 2 {
		missing := []string{"client_type", "authorization_grant_type"}[len(positional):]
		return out.Error(cli.Usagef("the following arguments are required: %s", strings.Join(missing, ", ")), false)
	}
	if len(positional) > 2 {
		return out.Error(cli.Usagef("unexpected argument %q", positional[2]), false)
	}
	settings, err := settingValues.Load(fs, getenv, o.common.Settings)
	if err != nil {
		return out.Error(err, o.common.Traceback)
	}
	spec, dbURL, err := o.spec(settings, stdin)
	if err != nil {
		return out.Error(err, o.common.Traceback)
	}
	spec.ClientType, spec.GrantType = positional[0], positional[1]
	if err := spec.Validate(); err != nil {
		return out.Error(cli.UsageError{Err: err}, o.common.Traceback)
	}
	if o.common.Verbosity >= 3 {
		spec.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	ctx := context.Background()
	st, err := cli.OpenStore(ctx, cli.OpenParams{URL: dbURL, CreateSchema: o.createSchema, SkipCheck: o.common.SkipChecks, Tables: o.tables,
		Notice: func(msg string) { out.Info("createapplication: " + msg) }})
	if err != nil {
		return out.Error(err, o.common.Traceback)
	}
	defer st.Close()
	spec.Store = st

	created, err := application.CreateApplication(ctx, spec)
	var ve *application.ValidationError
	if errors.As(err, &ve) {
		if o.asJSON {
			json.NewEncoder(stdout).Encode(struct { //nolint:errcheck // nothing to do if stdout is gone
				Errors []application.FieldError `json:"errors"`
				Exit   int                      `json:"exit"`
			}{ve.Errors, cli.ExitFailure})
		}
		// DOT prints these on stdout and exits 0; a script needs to know.
		out.Info(out.Red("Please correct the following errors:"))
		for _, fe := range ve.Errors {
			out.Info(out.Red(" - " + fe.Field + ": " + fe.Message + flagHint(fe.Field)))
		}
		return cli.ExitFailure
	}
	if err != nil {
		return out.Error(err, o.common.Traceback)
	}
	for _, w := range created.Warnings {
		if o.common.Verbosity >= 1 {
			out.Warn(w)
		}
	}
	if created.StoredInClear && o.common.Verbosity >= 1 {
		out.Warn("this application table has no hash_client_secret column (django-oauth-toolkit before 2.0, which compares secrets in clear): the secret is stored as given")
	}
	if o.asJSON {
		json.NewEncoder(stdout).Encode(created) //nolint:errcheck // nothing to do if stdout is gone
		return cli.ExitOK
	}
	// DOT writes these lines with self.stdout.write, which Django's
	// verbosity does not silence: the generated secret is shown nowhere else.
	if created.Existed {
		out.Success(fmt.Sprintf("Application %s already exists with the same settings.", created.DisplayName()))
		return cli.ExitOK
	}
	out.Success(fmt.Sprintf("New application %s created successfully.", created.DisplayName()))
	if created.ClientSecret != "" {
		out.Success("client_secret: " + created.ClientSecret)
	}
	return cli.ExitOK
}

// spec turns flags and settings into the library's Spec and DATABASE_URL.
func (o *options) spec(s *cli.Settings, stdin io.Reader) (application.Spec, string, error) {
	spec := application.Spec{
		ClientID: o.clientID, User: o.user, RedirectURIs: o.redirectURIs, PostLogoutRedirectURIs: o.postLogoutURIs,
		NoHashClientSecret: o.noHash, Name: o.name, SkipAuthorization: o.skipAuth, Algorithm: o.algorithm,
		IfNotExists: o.ifNotExists,
	}
	spec.Settings.HasherIterations = o.iterations
	if schemes, _ := s.Get("ALLOWED_REDIRECT_URI_SCHEMES"); schemes != "" {
		spec.Settings.AllowedRedirectURISchemes = strings.FieldsFunc(schemes, func(r rune) bool { return r == ',' || r == ' ' })
	}
	wild, err := s.Bool("ALLOW_URI_WILDCARDS")
	if err != nil {
		return spec, "", err
	}
	spec.Settings.AllowURIWildcards = wild
	spec.Settings.OIDCRSAPrivateKey, _ = s.Get(oidcKeySetting)
	if o.oidcKeyFile != "" {
		b, err := cli.ReadInputFile("--oidc-rsa-private-key-file", o.oidcKeyFile, stdin)
		if err != nil {
			return spec, "", err
		}
		spec.Settings.OIDCRSAPrivateKey = string(b)
	}
	if n, ok, err := s.Int("CLIENT_SECRET_GENERATOR_LENGTH"); err != nil {
		return spec, "", err
	} else if ok {
		spec.Settings.ClientSecretLength = n
	}
	secret, src := s.Get("CLIENT_SECRET")
	if o.secretFile != "" {
		if src == "--client-secret" {
			return spec, "", cli.Usagef("give the client secret once: --client-secret or --client-secret-file, not both")
		}
		if secret, err = readSecret(o.secretFile, stdin); err != nil {
			return spec, "", err
		}
		if secret == "" {
			return spec, "", cli.Usagef("--client-secret-file %s is empty", o.secretFile)
		}
	}
	spec.ClientSecret = secret
	url, _ := s.Get("DATABASE_URL")
	return spec, url, nil
}

func readSecret(path string, stdin io.Reader) (string, error) {
	b, err := cli.ReadInputFile("--client-secret-file", path, stdin)
	if err != nil {
		return "", err
	}
	s := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.ContainsAny(s, "\r\n") {
		return "", cli.Usagef("--client-secret-file %s holds more than one line", path)
	}
	return s, nil
}

// flagHint is the option that mends a field's error, in the command's
// words (the library's messages name no flags).
func flagHint(field string) string {
	if field == "hash_client_secret" {
		return ": use --no-hash-client-secret"
	}
	return ""
}
