package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
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
	cmd.Flags().String("api-key", "", "API key (default $MMQ_API_KEY; prefer the variable: a flag shows in ps)")
}

func apiClient(cmd *cobra.Command) (*client.Client, error) {
	url, err := serverURL(cmd)
	if err != nil {
		return nil, err
	}
	key, _ := cmd.Flags().GetString("api-key")
	return client.New(url, nil, client.WithAPIKey(cmp.Or(key, os.Getenv("MMQ_API_KEY")))), nil
}

func newSubmitCmd() *cobra.Command {
	var (
		opts     client.SubmitOptions
		metadata string
		wait     bool
		asJSON   bool
		batch    bool
		extract  extractionFlags
	)
	cmd := &cobra.Command{
		Use:   "submit FILE|URL... [--batch]",
		Short: "Submit PDFs or videos (paths, directories, globs, or http(s) URLs); several at once make a batch",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("give at least one file, directory, glob or URL")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := extract.apply(&opts); err != nil {
				return err
			}
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
			inputs, urls, err := expandInputs(args)
			if err != nil {
				return usageError{err}
			}
			if batch || len(inputs)+len(urls) > 1 {
				if len(inputs) > 0 && len(urls) > 0 {
					return usageError{fmt.Errorf("a batch is either files or URLs, not both")}
				}
				return submitBatch(cmd, c, inputs, urls, opts, wait, asJSON)
			}
			ctx := cmd.Context()
			var job *tasks.Job
			if len(urls) == 1 {
				job, err = c.SubmitURL(ctx, urls[0], opts)
			} else {
				job, err = c.SubmitFile(ctx, inputs[0], opts)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !wait {
				if asJSON {
					return writeJSON(out, job)
				}
				fmt.Fprintf(out, "%s\t%s\t%d %s\n", job.ID, job.Status, job.PagesTotal, unitNoun(job))
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "job %s submitted (%d %s)\n", job.ID, job.PagesTotal, unitNoun(job))
			job, err = followJob(cmd, c, job)
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
	f.StringVar(&opts.Sample, "sample", "", "video frames to analyze: fps:<n> (e.g. fps:0.5, one every 2 s), scene:<threshold> (e.g. scene:0.3) or keyframes (default fps:1)")
	f.IntVar(&opts.MaxFrames, "max-frames", 0, "analyze at most this many video frames (default: the server's limit)")
	f.Float64Var(&opts.Start, "start", 0, "analyze the video from this second on")
	f.Float64Var(&opts.End, "end", 0, "analyze the video up to this second")
	f.StringVar(&metadata, "metadata", "", "JSON echoed back on the job and its notification")
	f.StringVar(&opts.Password, "password", "", "password of an encrypted PDF (or $MMQ_PDF_PASSWORD)")
	f.StringVar(&opts.CallbackURL, "callback-url", "", "URL that receives the signed webhook when the job (or batch) ends")
	f.StringVar(&opts.Provider, "provider", "", "model provider, among those the server lets jobs choose (default: the server's)")
	f.Float64Var(&opts.MaxCostUSD, "max-cost-usd", 0, "stop the job within one page of this cost in US dollars (0: no cap)")
	f.BoolVar(&wait, "wait", false, "follow the job (or batch) with a progress bar and print its results")
	f.BoolVar(&asJSON, "json", false, "print the job (or batch) as JSON")
	f.BoolVar(&batch, "batch", false, "submit as a batch even when there is one input")
	extract.add(f)
	addServerFlag(cmd)
	return cmd
}

// expandInputs turns arguments into files and URLs: a directory gives the
// files directly in it, a glob its matches.
func expandInputs(args []string) (files, urls []string, err error) {
	for _, a := range args {
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			urls = append(urls, a)
			continue
		}
		matches, err := filepath.Glob(a)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", a, err)
		}
		if len(matches) == 0 {
			return nil, nil, fmt.Errorf("%s: no such file", a)
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, nil, err
			}
			if !st.IsDir() {
				files = append(files, m)
				continue
			}
			entries, err := os.ReadDir(m)
			if err != nil {
				return nil, nil, err
			}
			for _, e := range entries {
				if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
					files = append(files, filepath.Join(m, e.Name()))
				}
			}
		}
	}
	return files, urls, nil
}

// submitBatch submits inputs as one batch and, with wait, follows it with
// one progress bar of jobs ended/total.
func submitBatch(cmd *cobra.Command, c *client.Client, files, urls []string, opts client.SubmitOptions, wait, asJSON bool) error {
	ctx := cmd.Context()
	if opts.Password != "" {
		return usageError{fmt.Errorf("--password is not accepted for batches")}
	}
	var (
		b   *client.BatchReply
		err error
	)
	if len(urls) > 0 {
		b, err = c.SubmitBatchURLs(ctx, urls, opts)
	} else {
		b, err = c.SubmitBatchFiles(ctx, files, opts)
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if !wait {
		if asJSON {
			return writeJSON(out, b)
		}
		fmt.Fprintf(out, "batch %s: %d jobs\n", b.ID, b.Total)
		for _, id := range b.JobIDs {
			fmt.Fprintln(out, id)
		}
		return nil
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "batch %s submitted (%d jobs)\n", b.ID, b.Total)
	bar := newBar(cmd, b.Total, "jobs")
	err = c.BatchEvents(ctx, b.ID, func(ev tasks.Event) error {
		var d struct{ Ended int }
		if json.Unmarshal(ev.Data, &d) == nil && d.Ended > 0 {
			_ = bar.Set(d.Ended)
		}
		return nil
	})
	_ = bar.Close()
	if err != nil {
		return err
	}
	final, err := c.Batch(ctx, b.ID)
	if err != nil {
		return err
	}
	if asJSON {
		return writeJSON(out, final)
	}
	fmt.Fprintf(out, "batch     %s\nstatus    %s\njobs      %d", final.ID, final.Status, final.Total)
	for _, st := range []tasks.Status{tasks.StatusSucceeded, tasks.StatusPartiallySucceeded, tasks.StatusFailed, tasks.StatusCanceled} {
		if n := final.Counts[st]; n > 0 {
			fmt.Fprintf(out, ", %d %s", n, st)
		}
	}
	fmt.Fprintln(out)
	if u := final.Usage; u != nil && u.CostUSD > 0 {
		fmt.Fprintf(out, "cost      $%.4f (%d input + %d output tokens)\n", u.CostUSD, u.InputTokens, u.OutputTokens)
	}
	if err := printBatchJobs(ctx, out, c, final.ID); err != nil {
		return err
	}
	return batchEnd(final)
}

// batchJobsShown is how many jobs of a batch submit --wait lists.
const batchJobsShown = 100

// printBatchJobs lists the first batchJobsShown jobs of a batch, one line
// each: id, input, status, pages (or frames) done of total, error.
func printBatchJobs(ctx context.Context, w io.Writer, c *client.Client, id string) error {
	jobs, next, err := c.BatchJobs(ctx, id, "", batchJobsShown)
	if err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tINPUT\tSTATUS\tDONE\tERROR")
	for _, j := range jobs {
		input := j.Filename
		if input == "" {
			input = j.SourceURL
		}
		if len(input) > 40 {
			input = "..." + input[len(input)-37:]
		}
		msg := ""
		if j.ErrorCode != "" {
			msg = string(j.ErrorCode) + ": " + j.ErrorMessage
			if len(msg) > 60 {
				msg = msg[:57] + "..."
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", j.ID, input, j.Status, j.PagesDone, j.PagesTotal, msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if next != "" {
		fmt.Fprintf(w, "(the first %d jobs; GET /v1/batches/%s/jobs lists them all)\n", batchJobsShown, id)
	}
	return nil
}

func newBar(cmd *cobra.Command, total int, what string) *progressbar.ProgressBar {
	return progressbar.NewOptions(max(total, 1),
		progressbar.OptionSetWriter(cmd.ErrOrStderr()),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

// followJob follows a job's live events until it ends, drawing pages
// done/total, and returns its final record.
func followJob(cmd *cobra.Command, c *client.Client, job *tasks.Job) (*tasks.Job, error) {
	bar := newBar(cmd, job.PagesTotal, "pages")
	err := c.JobEvents(cmd.Context(), job.ID, func(ev tasks.Event) error {
		var d struct {
			PagesTotal  int `json:"pages_total"`
			PagesDone   int `json:"pages_done"`
			PagesFailed int `json:"pages_failed"`
		}
		if json.Unmarshal(ev.Data, &d) == nil && d.PagesTotal > 0 {
			if int64(d.PagesTotal) != bar.GetMax64() {
				bar.ChangeMax(d.PagesTotal)
			}
			_ = bar.Set(d.PagesDone + d.PagesFailed)
		}
		return nil
	})
	_ = bar.Close()
	if err != nil {
		return nil, err
	}
	return c.Job(cmd.Context(), job.ID)
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
	fmt.Fprintf(w, "job       %s\nstatus    %s\n%-10s%d total, %d done, %d failed\nattempts  %d\n",
		j.ID, j.Status, unitNoun(j), j.PagesTotal, j.PagesDone, j.PagesFailed, j.Attempts)
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
	printVideoSummary(w, j)
	printUsage(w, j)
}

// pageSummary is the part of the local analyzer's output the table shows.
type pageSummary struct {
	WordCount  int    `json:"word_count"`
	ImageCount int    `json:"image_count"`
	Text       string `json:"text"`
}

func printResults(w io.Writer, rs []tasks.PageResult) {
	if areFrames(rs) {
		printFrames(w, rs)
		return
	}
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
