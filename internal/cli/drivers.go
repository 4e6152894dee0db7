package cli

// The databases the commands take: each package links one driver.
import (
	_ "github.com/oauthkit/oauthkit/store/sqlstore/mysql"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite"
)
