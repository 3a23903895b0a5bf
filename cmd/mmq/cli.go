package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

func addServerFlag(cmd *cobra.Command) {
	cmd.Flags().String("server", "", "API base URL (default $MMQ_SERVER, else http://<api.addr>)")
}

func apiClient(cmd *cobra.Command) (*client.Client, error) {
	url, err := serverURL(cmd)
	if err != nil {
		return nil, err
	}
	return client.New(url, nil), nil
}

func newSubmitCmd() *cobra.Command {
	var (
		opts     client.SubmitOptions
		metadata string
		wait     bool
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "submit FILE|URL",
		Short: "Submit a PDF (a path, or an http(s) URL the worker downloads)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if metadata != "" {
				if !json.Valid([]byte(metadata)) {
					return usageError{fmt.Errorf("--metadata is not valid JSON")}
				}
				opts.Metadata = json.RawMessage(metadata)
			}
			if opts.Password == "" {
				opts.Password = os.Getenv("MMQ_PDF_PASSWORD")
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var job *tasks.Job
			if arg := args[0]; strings.HasPrefix(arg, "http://") || strings.HasPrefix(arg, "https://") {
				job, err = c.SubmitURL(ctx, arg, opts)
			} else {
				job, err = c.SubmitFile(ctx, arg, opts)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !wait {
				if asJSON {
					return writeJSON(out, job)
				}
				fmt.Fprintf(out, "%s\t%s\t%d pages\n", job.ID, job.Status, job.PagesTotal)
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "job %s submitted (%d pages)\n", job.ID, job.PagesTotal)
			job, err = waitWithBar(cmd, c, job)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(out, job); err != nil {
					return err
				}
			} else {
				printSummary(out, job)
				rs, err := c.AllResults(ctx, job.ID)
				if err != nil {
					return err
				}
				printResults(out, rs)
			}
			return jobEnd(job)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Task, "task", "", "analysis task (default general_qa)")
	f.StringVar(&opts.Priority, "priority", "", "critical, default or low")
	f.IntVar(&opts.MaxPages, "max-pages", 0, "refuse documents with more pages")
	f.StringVar(&metadata, "metadata", "", "JSON echoed back on the job and its notification")
	f.StringVar(&opts.Password, "password", "", "password of an encrypted PDF (or $MMQ_PDF_PASSWORD)")
	f.BoolVar(&wait, "wait", false, "follow the job with a progress bar and print its results")
	f.BoolVar(&asJSON, "json", false, "print the job as JSON")
	addServerFlag(cmd)
	return cmd
}

// waitWithBar follows a job until it ends, drawing pages done/total.
func waitWithBar(cmd *cobra.Command, c *client.Client, job *tasks.Job) (*tasks.Job, error) {
	bar := progressbar.NewOptions(max(job.PagesTotal, 1),
		progressbar.OptionSetWriter(cmd.ErrOrStderr()),
		progressbar.OptionSetDescription("pages"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	defer bar.Close()
	return c.Wait(cmd.Context(), job.ID, 200*time.Millisecond, func(j *tasks.Job) {
		if j.PagesTotal > 0 && int64(j.PagesTotal) != bar.GetMax64() {
			bar.ChangeMax(j.PagesTotal)
		}
		_ = bar.Set(j.PagesDone + j.PagesFailed)
	})
}

func newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status JOB",
		Short: "Show a job's state, counts and timings",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			job, err := c.Job(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), job)
			}
			printSummary(cmd.OutOrStdout(), job)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addServerFlag(cmd)
	return cmd
}

func newResultsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "results JOB",
		Short: "Print a job's page results in page order",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			rs, err := c.AllResults(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			printResults(cmd.OutOrStdout(), rs)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	addServerFlag(cmd)
	return cmd
}

func printSummary(w io.Writer, j *tasks.Job) {
	fmt.Fprintf(w, "job       %s\nstatus    %s\npages     %d total, %d done, %d failed\nattempts  %d\n",
		j.ID, j.Status, j.PagesTotal, j.PagesDone, j.PagesFailed, j.Attempts)
	if j.Filename != "" || j.SourceURL != "" {
		fmt.Fprintf(w, "input     %s%s (%d bytes)\n", j.Filename, j.SourceURL, j.Size)
	}
	fmt.Fprintf(w, "created   %s\n", j.CreatedAt.Format(time.RFC3339))
	if j.StartedAt != nil && j.FinishedAt != nil {
		fmt.Fprintf(w, "took      %s\n", j.FinishedAt.Sub(*j.StartedAt).Round(time.Millisecond))
	}
	if j.ErrorCode != "" {
		fmt.Fprintf(w, "error     %s: %s\n", j.ErrorCode, j.ErrorMessage)
	}
}

// pageSummary is the part of the local analyzer's output the table shows.
type pageSummary struct {
	WordCount  int    `json:"word_count"`
	ImageCount int    `json:"image_count"`
	Text       string `json:"text"`
}

func printResults(w io.Writer, rs []tasks.PageResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PAGE\tSTATUS\tMS\tWORDS\tIMAGES\tTEXT / ERROR")
	for _, r := range rs {
		var s pageSummary
		_ = json.Unmarshal(r.Output, &s)
		text := strings.Join(strings.Fields(s.Text), " ")
		if r.Status == tasks.PageFailed {
			text = string(r.ErrorCode) + ": " + r.ErrorMessage
		}
		if len(text) > 60 {
			text = text[:57] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%s\n", r.Index, r.Status, r.DurationMS, s.WordCount, s.ImageCount, text)
	}
	_ = tw.Flush()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jobEnd turns a job's final state into the command's exit status.
func jobEnd(j *tasks.Job) error {
	switch j.Status {
	case tasks.StatusSucceeded:
		return nil
	case tasks.StatusPartiallySucceeded:
		return &jobEndError{exitJobPartial, fmt.Sprintf("job %s partially succeeded: %s", j.ID, j.ErrorMessage)}
	default:
		return &jobEndError{exitJobFailed, fmt.Sprintf("job %s %s: %s: %s", j.ID, j.Status, j.ErrorCode, j.ErrorMessage)}
	}
}

func isConnError(err error) bool {
	var ne *net.OpError
	return errors.As(err, &ne)
}
