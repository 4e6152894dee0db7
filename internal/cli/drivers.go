package cli

// The databases the commands take: each package links one driver.
import (
	"io"
	"log"

	gomysql "github.com/go-sql-driver/mysql"

	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"
)

// The MySQL driver prints "[mysql] …" lines of its own on stderr (a
// connection dropped, say); the commands report each failure once, in
// their own format, so those lines are dropped.
func init() { _ = gomysql.SetLogger(log.New(io.Discard, "", 0)) }
