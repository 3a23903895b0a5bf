package main

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

func newEstimateCmd() *cobra.Command {
	var (
		opts    client.SubmitOptions
		asJSON  bool
		perPage bool
		extract extractionFlags
	)
	cmd := &cobra.Command{
		Use:   "estimate FILE",
		Short: "Estimate the tokens and cost of analyzing a PDF, before submitting it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := extract.apply(&opts); err != nil {
				return err
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			est, err := c.Estimate(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), est)
			}
			printEstimate(cmd.OutOrStdout(), est, perPage)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Task, "task", "", "analysis task (default general_qa)")
	f.StringVar(&opts.Provider, "provider", "", "model provider (default: the server's)")
	f.StringVar(&opts.Password, "password", "", "password of an encrypted PDF")
	f.IntVar(&opts.MaxPages, "max-pages", 0, "refuse documents with more pages")
	f.BoolVar(&perPage, "per-page", false, "print each page's estimate (--pages selects the pages to estimate)")
	extract.add(f)
	f.BoolVar(&asJSON, "json", false, "print JSON")
	addServerFlag(cmd)
	return cmd
}

func printEstimate(w io.Writer, e *tasks.Estimate, perPage bool) {
	fmt.Fprintf(w, "provider  %s %v\ntask      %s\npages     %d\n", e.Provider, e.Models, e.Task, e.Pages)
	fmt.Fprintf(w, "tokens    %d in (%d of them images), %d out\ncost      $%.4f\n", e.InputTokens, e.ImageTokens, e.OutputTokens, e.CostUSD)
	if n := len(e.Combine); n > 0 {
		var cost float64
		for _, c := range e.Combine {
			cost += c.CostUSD
		}
		fmt.Fprintf(w, "combine   %d calls, $%.4f (in the total)\n", n, cost)
	}
	if !perPage {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tMODEL\tIN\tIMAGE\tOUT\tUSD")
	for _, p := range e.PerPage {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%.5f\n", p.Index, p.Model, p.InputTokens, p.ImageTokens, p.OutputTokens, p.CostUSD)
	}
	_ = tw.Flush()
}

// printUsage prints what a job's model calls consumed.
func printUsage(w io.Writer, j *tasks.Job) {
	u := j.Usage
	if u == nil {
		return
	}
	fmt.Fprintf(w, "usage     %d tokens in, %d out, $%.4f; cache %d hits, %d misses; %d throttled waits\n",
		u.InputTokens, u.OutputTokens, u.CostUSD, u.CacheHits, u.CacheMisses, u.PagesThrottled)
}
