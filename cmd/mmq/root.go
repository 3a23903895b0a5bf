package main

import (
	"cmp"
	"os"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/config"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "mmq",
		Short:         "Analyze PDF documents page by page on asynq workers",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	pf := root.PersistentFlags()
	pf.String("config", os.Getenv("MMQ_CONFIG"), "config file (YAML; see configs/config.yaml) [MMQ_CONFIG]")
	pf.String("redis-addr", "", "Redis host:port; empty starts an embedded Redis in `mmq run` [MMQ_REDIS_ADDR]")
	pf.String("api-addr", "", "API listen address [MMQ_API_ADDR]")
	pf.String("log-level", "", "trace, debug, info, warn, error [MMQ_LOG_LEVEL]")
	pf.String("log-format", "", "auto, json or console [MMQ_LOG_FORMAT]")
	root.AddCommand(newRunCmd(), newAPICmd(), newWorkerCmd(),
		newSubmitCmd(), newStatusCmd(), newResultsCmd(), newKeysCmd(), newStatsCmd(), newUsageCmd(), newEstimateCmd(), newDocumentCmd(), newDeleteCmd(),
		newCancelCmd(), newRetryCmd(), newWatchCmd())
	return root
}

// loadConfig loads the configuration with cmd's flags as the last word.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	path, _ := cmd.Flags().GetString("config")
	return config.Load(path, cmd.Flags())
}

// serverURL is where the CLI finds the API: --server, MMQ_SERVER, or the
// configured listen address.
func serverURL(cmd *cobra.Command) (string, error) {
	if s, _ := cmd.Flags().GetString("server"); s != "" {
		return s, nil
	}
	cfg, err := loadConfig(cmd)
	if err != nil {
		return "", err
	}
	return cmp.Or(os.Getenv("MMQ_SERVER"), "http://"+cfg.API.Addr), nil
}

// exactArgs is cobra.ExactArgs whose error exits with the usage code.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// minArgs is cobra.MinimumNArgs whose error exits with the usage code.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}
