package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/oauthkit/oauthkit/store"
	"github.com/oauthkit/oauthkit/store/sqlstore"
)

// DefaultDatabaseURL is Django's own default file name, on SQLite.
const DefaultDatabaseURL = "sqlite:db.sqlite3"

// DatabaseURLHelp documents DATABASE_URL for every command.
const DatabaseURLHelp = "database `URL`: postgres://…, postgresql://…, sqlite:PATH or sqlite:///ABS/PATH (default " +
	DefaultDatabaseURL + ", created with its tables on first use)"

// SettingFlag is a setting of DOT's name with the flag that overrides it.
type SettingFlag struct{ Key, Flag, Help string }

// SettingFlags registers one string flag per setting and, after parsing,
// applies the ones given on the command line over the other sources.
type SettingFlags struct {
	defs   []SettingFlag
	values map[string]*string
}

// RegisterSettings adds a flag per setting to fs.
func RegisterSettings(fs *flag.FlagSet, defs []SettingFlag) *SettingFlags {
	sf := &SettingFlags{defs: defs, values: map[string]*string{}}
	for _, d := range defs {
		v := new(string)
		sf.values[d.Key] = v
		fs.StringVar(v, d.Flag, "", d.Help+" [env "+d.Key+"]")
	}
	return sf
}

// Keys lists the settings' names.
func (sf *SettingFlags) Keys() []string {
	keys := make([]string, len(sf.defs))
	for i, d := range sf.defs {
		keys[i] = d.Key
	}
	return keys
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

// TableHelp documents --table.
const TableHelp = "use table `ROLE=NAME` for a swapped DOT model; ROLE is application, accesstoken, refreshtoken, idtoken, grant, user or migrations (repeatable)"

// OpenParams say which database a command opens and how.
type OpenParams struct {
	// URL is DATABASE_URL; empty means the embedded default, which is
	// created with its tables on first use.
	URL string
	// CreateSchema creates missing tables in a database the user named.
	CreateSchema bool
	// SkipCheck skips the check that every table exists.
	SkipCheck bool
	Tables    store.Tables
}

// OpenStore opens the database, creates the schema where asked (or for the
// embedded default) and checks the tables. A malformed URL or table name is
// a UsageError.
func OpenStore(ctx context.Context, p OpenParams) (*sqlstore.Store, error) {
	url, create := p.URL, p.CreateSchema
	if url == "" {
		url, create = DefaultDatabaseURL, true
	}
	opts := []sqlstore.Option{sqlstore.WithTables(p.Tables)}
	if create {
		opts = append(opts, sqlstore.AllowCreate())
	}
	st, err := sqlstore.Open(ctx, url, opts...)
	if err != nil {
		if errors.Is(err, store.ErrInvalidURL) || errors.Is(err, store.ErrInvalidIdentifier) {
			return nil, UsageError{Err: err}
		}
		return nil, err
	}
	if create {
		if err := st.Migrate(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	if !p.SkipCheck {
		if err := st.CheckSchema(ctx); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}
