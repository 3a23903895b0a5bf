package main

import (
	"bufio"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/api"
)

func newKeysCmd() *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Make API keys and their hashes for auth.keys",
	}
	keys.AddCommand(&cobra.Command{
		Use:   "create",
		Short: "Print a new API key (once) and the hash to list in auth.keys",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := api.NewKey()
			if err != nil {
				return err
			}
			hash := api.HashKey(key)
			fmt.Fprintf(cmd.OutOrStdout(), `API key (shown this once; mmq keeps only its hash):

  %s

Give it to the client: MMQ_API_KEY=<key> for the CLI, or the header
"Authorization: Bearer <key>" (or "X-API-Key: <key>"). In a browser,
/monitoring asks for a user name (any) and a password (the key).

Let the server accept it: add its SHA-256 to auth.keys in the config file

  auth:
    keys:
      - %s

or to MMQ_AUTH_KEYS (comma-separated), and restart the API.
`, key, hash)
			return nil
		},
	}, &cobra.Command{
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
