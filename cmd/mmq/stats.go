package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mmq/mmq/tasks"
)

func newStatsCmd() *cobra.Command {
	var (
		since  time.Duration
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "stats [--since 1h]",
		Short: "Success rate, latency, cost and guardrail rate of recent jobs against their targets",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			st, err := c.Stats(cmd.Context(), since)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return writeJSON(out, st)
			}
			printStats(out, st, colorful(out))
			return nil
		},
	}
	cmd.Flags().DurationVar(&since, "since", time.Hour, "window: jobs submitted this long ago or later")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the server's answer as JSON")
	addServerFlag(cmd)
	return cmd
}

// colorful reports whether w is a terminal that wants color (NO_COLOR
// unset).
func colorful(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && os.Getenv("NO_COLOR") == "" && term.IsTerminal(int(f.Fd()))
}

// checkLabels names the checks for people.
var checkLabels = map[string]string{
	"success_rate":     "success rate",
	"page_latency_p50": "page latency P50",
	"page_latency_p99": "page latency P99",
	"guardrail_rate":   "guardrail rate",
}

func printStats(w io.Writer, st *tasks.Stats, color bool) {
	fmt.Fprintf(w, "last %s (%s to %s)\n\n", st.Since, st.From.Local().Format(time.DateTime), st.To.Local().Format(time.TimeOnly))
	total := 0
	for _, n := range st.Jobs {
		total += n
	}
	var parts []string
	for _, s := range []tasks.Status{tasks.StatusSucceeded, tasks.StatusPartiallySucceeded, tasks.StatusFailed,
		tasks.StatusCanceled, tasks.StatusProcessing, tasks.StatusQueued} {
		if n := st.Jobs[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "jobs\t%d\t%s\n", total, strings.Join(parts, ", "))
	fmt.Fprintf(tw, "job latency\tP50 %s\tP99 %s (%d jobs, submission to end)\n",
		fmtMS(st.JobLatency.P50MS), fmtMS(st.JobLatency.P99MS), st.JobLatency.N)
	fmt.Fprintf(tw, "page latency\tP50 %s\tP99 %s (%d pages)\n",
		fmtMS(st.PageLatency.P50MS), fmtMS(st.PageLatency.P99MS), st.PageLatency.N)
	fmt.Fprintf(tw, "cost\t$%.4f\t$%.6f per job, $%.6f per page\n", st.CostUSD, st.CostPerJobUSD, st.CostPerPageUSD)
	tw.Flush()
	fmt.Fprintln(w)

	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tVALUE\tTARGET\t")
	for _, c := range st.Checks {
		label := checkLabels[c.Name]
		if label == "" {
			label = c.Name
		}
		op := "<"
		if c.Above {
			op = ">"
		}
		value, target := fmtValue(c.Value, c.Unit), fmtValue(c.Target, c.Unit)
		verdict := paint("RED", "31", color)
		switch {
		case c.NoData:
			value, verdict = "-", "no data"
		case c.OK:
			verdict = paint("GREEN", "32", color)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\n", label, value, op, target, verdict)
	}
	tw.Flush()
}

// paint wraps s in an ANSI color when color is on.
func paint(s, code string, color bool) string {
	if !color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

func fmtValue(v float64, unit string) string {
	if unit == "ratio" {
		return fmt.Sprintf("%.2f %%", 100*v)
	}
	return fmtMS(int64(v))
}

func fmtMS(ms int64) string {
	return (time.Duration(ms) * time.Millisecond).String()
}
