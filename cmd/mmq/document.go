package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mmq/mmq/client"
	"github.com/mmq/mmq/tasks"
)

// extractionFlags are the flags of submit and estimate that say what to
// extract; apply reads the schema file into opts before any request.
type extractionFlags struct {
	schemaFile, instructions, scope, mode, pages string
}

func (e *extractionFlags) add(f *pflag.FlagSet) {
	f.StringVar(&e.schemaFile, "schema", "", "JSON Schema file (draft 2020-12, an object at the top) every page's data must follow")
	f.StringVar(&e.instructions, "instructions", "", "instructions for the model, added to the task's prompt (at most 8 KiB)")
	f.StringVar(&e.scope, "scope", "", "page (one answer per page, the default) or document (also one combined answer for the job)")
	f.StringVar(&e.mode, "mode", "", "realtime (the default) or economy (the provider's batch API: half price, done within 24 hours)")
	f.StringVar(&e.pages, "pages", "", `the pages of a document to analyze, like "1-3,7,10-" (10- runs to the last page); default every page`)
}

func (e *extractionFlags) apply(opts *client.SubmitOptions) error {
	opts.Instructions, opts.Scope, opts.Mode, opts.Pages = e.instructions, e.scope, e.mode, e.pages
	if _, err := tasks.ParsePages(e.pages); err != nil {
		return usageError{fmt.Errorf("--pages: %s", tasks.ErrorMessage(err))}
	}
	if !tasks.Scope(e.scope).Valid() {
		return usageError{fmt.Errorf("--scope must be page or document")}
	}
	if !tasks.Mode(e.mode).Valid() {
		return usageError{fmt.Errorf("--mode must be realtime or economy")}
	}
	if len(e.instructions) > tasks.MaxInstructionsBytes {
		return usageError{fmt.Errorf("--instructions is longer than %d bytes", tasks.MaxInstructionsBytes)}
	}
	if e.schemaFile == "" {
		return nil
	}
	f, err := os.Open(e.schemaFile)
	if err != nil {
		return usageError{fmt.Errorf("--schema: %w", err)}
	}
	defer f.Close()
	// An indented file may be larger than the bound, which is on the
	// compacted schema; 4 times the bound is more indentation than any.
	b, err := io.ReadAll(io.LimitReader(f, 4*tasks.MaxSchemaBytes+1))
	if err != nil {
		return usageError{fmt.Errorf("--schema: %w", err)}
	}
	var compact bytes.Buffer
	if len(b) > 4*tasks.MaxSchemaBytes {
		return usageError{fmt.Errorf("--schema: %s is larger than %d bytes", e.schemaFile, 4*tasks.MaxSchemaBytes)}
	}
	if err := json.Compact(&compact, b); err != nil {
		return usageError{fmt.Errorf("--schema: %s is not valid JSON: %v", e.schemaFile, err)}
	}
	if compact.Len() > tasks.MaxSchemaBytes {
		return usageError{fmt.Errorf("--schema: %s is %d bytes compacted; the limit is %d", e.schemaFile, compact.Len(), tasks.MaxSchemaBytes)}
	}
	opts.Schema = compact.Bytes()
	return nil
}

func newDocumentCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "document JOB",
		Short: "Print a job as one document: its combined answer and every page's text and data (JSON or Markdown)",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" && format != "markdown" {
				return usageError{fmt.Errorf("--format must be json or markdown")}
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			return c.Document(cmd.Context(), args[0], format, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "json or markdown")
	addServerFlag(cmd)
	return cmd
}
