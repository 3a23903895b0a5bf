package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/tasks"
)

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Make API keys and their hashes for auth.keys",
	}
	var tenant string
	var admin bool
	create := &cobra.Command{
		Use:   "create [--tenant NAME] [--admin]",
		Short: "Print a new API key (once) and the entry to list in auth.keys",
		Long: `Print a new API key (once) and the entry to list in auth.keys: its SHA-256,
then :<tenant> when --tenant is given (else the key is a tenant of its own),
then :admin for --admin (an admin key sees and manages every tenant's jobs,
and may open /monitoring).`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if admin && tenant == "" {
				return usageError{fmt.Errorf("--admin needs --tenant: the tenant that owns what the admin key submits")}
			}
			if tenant != "" && !tasks.ValidTenant(tenant) {
				return usageError{fmt.Errorf("--tenant %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", tenant)}
			}
			key, err := api.NewKey()
			if err != nil {
				return err
			}
			hash := api.HashKey(key)
			if tenant != "" {
				hash += ":" + tenant
			}
			if admin {
				hash += ":admin"
			}

			fmt.Fprintf(cmd.OutOrStdout(), `API key (shown this once; mmq keeps only its hash):

  %s

Give it to the client: MMQ_API_KEY=<key> for the CLI, or the header
"Authorization: Bearer <key>" (or "X-API-Key: <key>"). In a browser,
/monitoring, for admin keys only, asks for a user name (any) and a password
(the key).

Let the server accept it: add this entry to auth.keys in the config file

  auth:
    keys:
      - %s

or to MMQ_AUTH_KEYS (comma-separated), and restart the API.
`, key, hash)
			return nil
		},
	}
	create.Flags().StringVar(&tenant, "tenant", "", "the tenant the key acts for (a-z, 0-9, _ and -)")
	create.Flags().BoolVar(&admin, "admin", false, "make an admin key, which sees every tenant")
	keys.AddCommand(create, &cobra.Command{
		Use:   "hash",
		Short: "Read API keys from stdin, one a line, and print the hash of each",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc := bufio.NewScanner(cmd.InOrStdin())
			for sc.Scan() {
				if k := strings.TrimSpace(sc.Text()); k != "" {
					fmt.Fprintln(cmd.OutOrStdout(), api.HashKey(k))
				}
			}
			return sc.Err()
		},
	})
	return keys
}
