package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/client"
)

// newDeleteCmd is `mmq delete ID...`: each id is a job's or a batch's.
func newDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "delete JOB|BATCH...",
		Short: "Delete jobs or batches (a running job is canceled first), with their results and inputs",
		Long: "Deletes each job, or batch with all its jobs: results, events, webhook deliveries and passwords,\n" +
			"and each input file that no other job uses. A job still queued or running is canceled first.",
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			for _, id := range args {
				what := "job"
				err := c.DeleteJob(cmd.Context(), id)
				if isNotFound(err) {
					what, err = "batch", c.DeleteBatch(cmd.Context(), id)
				}
				if isNotFound(err) {
					return fmt.Errorf("%s: no such job or batch", id)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted %s %s\n", what, id)
			}
			return nil
		},
	}
	addServerFlag(cmd)
	return cmd
}

func isNotFound(err error) bool {
	var ae *client.APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}
