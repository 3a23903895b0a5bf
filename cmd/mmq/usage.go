package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/tasks"
)

func newUsageCmd() *cobra.Command {
	var (
		since, tenant string
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "usage [--since 2026-12-01|72h] [--tenant NAME]",
		Short: "Jobs, pages, frames, tokens, cost and cache hits of your tenant, by day",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			rep, err := c.Usage(cmd.Context(), since, tenant)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printUsageReport(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first day (2006-01-02) or how far back (72h); default the last 7 days")
	cmd.Flags().StringVar(&tenant, "tenant", "", "the tenant to report on (admin keys; default every tenant's)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	addServerFlag(cmd)
	return cmd
}

// printUsageReport writes rep as a table, a line a day and the total.
func printUsageReport(w io.Writer, rep *tasks.UsageReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "DAY\tJOBS\tPAGES\tFRAMES\tINPUT TOKENS\tOUTPUT TOKENS\tCOST\tCACHE HITS\t")
	row := func(label string, d tasks.UsageDay) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t$%.4f\t%d\t\n", label, d.Jobs, d.Pages, d.Frames,
			d.InputTokens, d.OutputTokens, d.CostUSD, d.CacheHits)
	}
	for _, d := range rep.Days {
		row(d.Date, d)
	}
	row("total", rep.Total)
	tw.Flush()
}
