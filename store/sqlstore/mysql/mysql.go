// Package mysql links MySQL and MariaDB (Galera included) into sqlstore:
// import it for its effect, and sqlstore.Open takes mysql:// and
// mariadb:// URLs, and sqlstore.New a *sql.DB on
// github.com/go-sql-driver/mysql, whose errors sqlstore can only read
// through this package.
//
//	import _ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"
package mysql

import (
	"errors"
	"net/url"
	"strings"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/oauthkit/oauthkit/store/sqlstore/internal/drivers"
)

func init() {
	drivers.RegisterMySQL(drivers.MySQL{Error: serverError, ConnLost: connLost, DSN: dsn})
}

func serverError(err error) (uint16, string, string, bool) {
	var my *gomysql.MySQLError
	if !errors.As(err, &my) {
		return 0, "", "", false
	}
	return my.Number, string(my.SQLState[:]), my.Message, true
}

func connLost(err error) bool { return errors.Is(err, gomysql.ErrInvalidConn) }

// dsn formats c with the driver's Config, then has the driver parse the
// result, so that an option it does not take is refused here.
func dsn(c drivers.MySQLConfig) (string, error) {
	cfg := gomysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.Net, cfg.Addr, cfg.DBName = c.User, c.Passwd, c.Net, c.Addr, c.DBName
	base := cfg.FormatDSN()
	parsed, err := gomysql.ParseDSN(base + queryOf(c.Params, base))
	if err != nil {
		return "", err
	}
	return parsed.FormatDSN(), nil
}

// queryOf is params as the query of a DSN that starts with base.
func queryOf(params map[string]string, base string) string {
	if len(params) == 0 {
		return ""
	}
	v := url.Values{}
	for k, x := range params {
		v.Set(k, x)
	}
	if strings.Contains(base, "?") {
		return "&" + v.Encode()
	}
	return "?" + v.Encode()
}
