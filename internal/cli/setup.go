package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"  // links mysql
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite" // links sqlite
)

// DefaultDatabaseURL is Django's own default file name, on SQLite.
const DefaultDatabaseURL = "sqlite:db.sqlite3"

// DatabaseURL is the DATABASE_URL setting of every command.
var DatabaseURL = SettingFlag{Key: "DATABASE_URL", Flag: "database-url", Default: DefaultDatabaseURL + ", created with DOT's tables when the file does not exist",
	Help: "database `URL`: postgres://…, postgresql://…, mysql://…, mariadb://…, sqlite:PATH, sqlite:///RELATIVE/PATH or sqlite:////ABSOLUTE/PATH; " +
		"a password on the command line shows in the process list: prefer the environment or --settings"}

// SettingFlag is a setting of DOT's name with the flag that overrides it.
// Default is what applies when no source sets it, for the help.
type SettingFlag struct{ Key, Flag, Help, Default string }

// SettingFlags registers one string flag per setting and, after parsing,
// applies the ones given on the command line over the other sources.
type SettingFlags struct {
	defs   []SettingFlag
	values map[string]*string
	// unflagged are settings read from the environment and the settings
	// file only (a secret that does not belong on a command line).
	unflagged []string
}

// RegisterSettings adds a flag per setting to fs; unflagged settings have none.
func RegisterSettings(fs *flag.FlagSet, defs []SettingFlag, unflagged ...string) *SettingFlags {
	sf := &SettingFlags{defs: defs, values: map[string]*string{}, unflagged: unflagged}
	for _, d := range defs {
		v := new(string)
		sf.values[d.Key] = v
		def := d.Default
		if def == "" {
			def = "unset"
		}
		fs.StringVar(v, d.Flag, "", d.Help+" (default "+def+") [env "+d.Key+"]")
	}
	return sf
}

// Keys lists the settings' names.
func (sf *SettingFlags) Keys() []string {
	keys := make([]string, 0, len(sf.defs)+len(sf.unflagged))
	for _, d := range sf.defs {
		keys = append(keys, d.Key)
	}
	return append(keys, sf.unflagged...)
}

// Load reads the settings from the environment and the --settings file,
// then lays the flags given on the command line over them.
func (sf *SettingFlags) Load(fs *flag.FlagSet, getenv func(string) string, file string) (*Settings, error) {
	s, err := LoadSettings(sf.Keys(), getenv, file)
	if err != nil {
		return nil, err
	}
	fs.Visit(func(f *flag.Flag) {
		for _, d := range sf.defs {
			if d.Flag == f.Name {
				s.Override(d.Key, d.Flag, *sf.values[d.Key])
			}
		}
	})
	return s, nil
}

// TableFlag is a repeatable --table ROLE=NAME.
type TableFlag struct{ Tables *store.Tables }

func (f TableFlag) String() string { return "" }

// Set takes ROLE=NAME.
func (f TableFlag) Set(v string) error {
	role, name, ok := strings.Cut(v, "=")
	if !ok {
		return fmt.Errorf("want ROLE=NAME, e.g. accesstoken=myapp_accesstoken")
	}
	return f.Tables.Set(role, name)
}

// LockLeaseHelp documents --lock-lease.
const LockLeaseHelp = "on a MariaDB Galera cluster, how long the single-runner lock's lease lasts without renewal: a killed run blocks the next for at most this `DURATION` (default 30s)"

// TableHelp documents --table.
const TableHelp = "use table `ROLE=NAME` for a swapped DOT model; ROLE is application, accesstoken, refreshtoken, idtoken, grant, par (pushed authorization requests), user, migrations or lock (repeatable)"

// OpenParams say which database a command opens and how.
type OpenParams struct {
	// URL is DATABASE_URL; empty means the embedded default, which is
	// created with DOT's tables when its file does not exist yet.
	URL string
	// CreateSchema creates missing tables in a database the user named.
	CreateSchema bool
	// SkipCheck skips the check that every table exists.
	SkipCheck bool
	Tables    store.Tables
	// LockLease is the lease of the Galera lock (0: the default).
	LockLease time.Duration
	// Notice, when set, is told which database is used when none was
	// named, and whether it was just created: a line to show at every
	// verbosity, so that a cron job that forgot DATABASE_URL does not
	// "succeed" on an empty file unseen.
	Notice func(msg string)
}

// OpenStore opens the database, creates the schema where asked, and checks
// the tables. Only the embedded default's file, when it does not exist
// yet and no table was named with --table, is created with DOT's tables
// unasked; an existing database, or a table the user named, is never
// altered without --create-schema. A malformed URL or table name is a
// UsageError.
func OpenStore(ctx context.Context, p OpenParams) (*sqlstore.Store, error) {
	url, create := p.URL, p.CreateSchema
	notice := ""
	if url == "" {
		url = DefaultDatabaseURL
		ds, err := sqlstore.ParseURL(url)
		if err != nil {
			return nil, err
		}
		where := ds.Path
		if abs, err := filepath.Abs(ds.Path); err == nil {
			where = abs
		}
		notice = "no DATABASE_URL given: using the embedded default " + url + " (" + where + ")"
		if _, err := os.Stat(ds.Path); errors.Is(err, fs.ErrNotExist) && p.Tables == (store.Tables{}) {
			create = true
			notice += ", created just now with DOT 3.4.1's tables"
		}
	}
	opts := []sqlstore.Option{sqlstore.WithTables(p.Tables)}
	if p.LockLease < 0 || (p.LockLease > 0 && p.LockLease < time.Second) {
		return nil, Usagef("--lock-lease %s: want at least 1s", p.LockLease)
	}
	if p.LockLease != 0 {
		opts = append(opts, sqlstore.WithLockLease(p.LockLease))
	}
	if create {
		opts = append(opts, sqlstore.AllowCreate())
	}
	st, err := sqlstore.Open(ctx, url, opts...)
	switch {
	case errors.Is(err, store.ErrInvalidURL) || errors.Is(err, store.ErrInvalidIdentifier):
		return nil, UsageError{Err: err}
	case errors.Is(err, sqlstore.ErrNoFile):
		// Only the SQLite file itself: a missing socket, certificate or
		// folder named in the URL is reported as the driver says.
		ds, _ := sqlstore.ParseURL(url)
		return nil, noFileError{path: ds.Path, err: err}
	case err != nil:
		return nil, err
	}
	if create {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	if notice != "" && p.Notice != nil {
		p.Notice(notice)
	}
	if !p.SkipCheck {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// noFileError says, for a command's user, that a named SQLite file is
// missing and how to create it; it still matches fs.ErrNotExist.
type noFileError struct {
	path string
	err  error
}

func (e noFileError) Error() string {
	return fmt.Sprintf("the database file %s does not exist: name an existing database in DATABASE_URL, or add --create-schema to create it with DOT 3.4.1's tables", e.path)
}
func (e noFileError) Unwrap() error { return e.err }
