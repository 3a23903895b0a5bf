package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// newCancelCmd is `mmq cancel ID...`: each id is a job's or a batch's.
func newCancelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel JOB|BATCH...",
		Short: "Cancel jobs, or every job of a batch that has not ended (done pages are kept)",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			for _, id := range args {
				job, err := c.CancelJob(cmd.Context(), id)
				if err == nil {
					fmt.Fprintf(out, "canceled job %s (%d of %d pages done)\n", job.ID, job.PagesDone, job.PagesTotal)
					continue
				}
				if !isNotFound(err) {
					return fmt.Errorf("%s: %w", id, err)
				}
				b, err := c.CancelBatch(cmd.Context(), id)
				if isNotFound(err) {
					return fmt.Errorf("%s: no such job or batch", id)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", id, err)
				}
				fmt.Fprintf(out, "canceled batch %s: %d jobs canceled, %d of %d ended\n", b.ID, b.Canceled, b.Ended, b.Total)
			}
			return nil
		},
	}
	addServerFlag(cmd)
	return cmd
}

// newRetryCmd is `mmq retry JOB`.
func newRetryCmd() *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:   "retry JOB",
		Short: "Re-run the failed pages of a failed or partially succeeded job (done pages are kept)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			job, err := c.RetryJob(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "retrying job %s: %d of %d pages done, the others queued again\n", job.ID, job.PagesDone, job.PagesTotal)
			if !watch {
				return nil
			}
			return watchJob(cmd, c, job.ID, false)
		},
	}
	cmd.Flags().BoolVar(&watch, "watch", false, "follow the job's events until it ends, as mmq watch does")
	addServerFlag(cmd)
	return cmd
}

// newWatchCmd is `mmq watch ID`: a job's or batch's live events.
func newWatchCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "watch JOB|BATCH",
		Short: "Print a job's or batch's live events until it ends; the exit code says how it ended",
		Long: "Follows the events stream (GET /v1/jobs/{id}/events, or a batch's) and prints each event,\n" +
			"resuming after a dropped connection. Exits 0 when the job succeeded (a batch: all its jobs),\n" +
			"4 when it failed or was canceled, 5 when it partially succeeded (a batch: some jobs did not succeed).",
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			return watchJob(cmd, c, args[0], asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each event as a JSON line")
	addServerFlag(cmd)
	return cmd
}

// watchPoll is how often watch polls a job whose stream has ended before it.
const watchPoll = 250 * time.Millisecond

// watchJob prints the events of job id, or of batch id when no job has
// that id, and returns the end as the command's exit status.
func watchJob(cmd *cobra.Command, c *client.Client, id string, asJSON bool) error {
	ctx, out := cmd.Context(), cmd.OutOrStdout()
	print := func(ev tasks.Event) error { return printEvent(out, ev, asJSON) }
	err := c.JobEvents(ctx, id, print)
	if err == nil {
		job, err := c.Job(ctx, id)
		if err == nil && !job.Status.Final() {
			// The stream ended on an earlier end: a retried job's stream
			// still holds its first run's final event. Poll the rest.
			var last string
			job, err = c.Wait(ctx, id, watchPoll, func(j *tasks.Job) {
				line := fmt.Sprintf(`{"status":%q,"pages_done":%d,"pages_total":%d}`, j.Status, j.PagesDone, j.PagesTotal)
				if line != last {
					fmt.Fprintf(out, "%-6s %s\n", "state", line)
					last = line
				}
			})
		}
		if err != nil {
			return err
		}
		return jobEnd(job)
	}
	if !isNotFound(err) {
		return err
	}
	if err := c.BatchEvents(ctx, id, print); isNotFound(err) {
		return fmt.Errorf("%s: no such job or batch", id)
	} else if err != nil {
		return err
	}
	b, err := c.Batch(ctx, id)
	if err != nil {
		return err
	}
	return batchEnd(b)
}

// batchEnd turns a completed batch into the command's exit status: 0 when
// every job succeeded.
func batchEnd(b *tasks.Batch) error {
	if ok := b.Counts[tasks.StatusSucceeded]; ok != b.Total {
		return &jobEndError{exitJobPartial, fmt.Sprintf("batch %s: %d of %d jobs did not succeed", b.ID, b.Total-ok, b.Total)}
	}
	return nil
}

// printEvent writes one event: its type and data on a line, or the event
// as a JSON line.
func printEvent(w io.Writer, ev tasks.Event, asJSON bool) error {
	if asJSON {
		b, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	var data bytes.Buffer
	if json.Compact(&data, ev.Data) != nil {
		data.Reset()
		data.Write(ev.Data)
	}
	_, err := fmt.Fprintf(w, "%-6s %s\n", ev.Type, data.Bytes())
	return err
}
