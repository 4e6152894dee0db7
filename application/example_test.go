package application_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/oauthkit/oauthkit/application"
	"github.com/oauthkit/oauthkit/store/sqlstore"
	_ "github.com/oauthkit/oauthkit/store/sqlstore/sqlite" // links SQLite
)

// Register a confidential client, then check secrets against what was
// stored (a Django PBKDF2 hash, never the secret itself).
func ExampleCreateApplication() {
	dir, _ := os.MkdirTemp("", "oauthkit-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "db.sqlite3"), sqlstore.AllowCreate())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}

	created, err := application.CreateApplication(ctx, application.Spec{
		Store: st, ClientType: "confidential", GrantType: "client-credentials",
		ClientID: "billing-service", Name: "Billing",
		Settings: application.Settings{HasherIterations: 1000}, // Django's 1,000,000 in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("New application %s created successfully.\n", created.DisplayName())
	fmt.Println("generated secret length:", len(created.ClientSecret))

	_, ok, _ := application.VerifyClientSecret(ctx, st, "billing-service", created.ClientSecret)
	fmt.Println("right secret:", ok)
	_, ok, _ = application.VerifyClientSecret(ctx, st, "billing-service", "guess")
	fmt.Println("wrong secret:", ok)

	_, err = application.CreateApplication(ctx, application.Spec{Store: st, ClientType: "public", GrantType: "implicit"})
	fmt.Println(err)
	// Output:
	// New application Billing created successfully.
	// generated secret length: 128
	// right secret: true
	// wrong secret: false
	// invalid application: redirect_uris: is required with grant type implicit
}
