package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/tasks"
)

// Every logger of the process redacts the errors it logs, whichever
// package logs them. Not parallel: it sets zerolog.ErrorMarshalFunc, which
// every logger reads, before the parallel tests start.
func TestLoggerRedactsErrors(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log, err := newLogger(config.Log{Level: "info", Format: "json"}, f)
	if err != nil {
		t.Fatal(err)
	}
	cause := &url.Error{Op: "Get", URL: "https://files.example/doc.pdf?X-Amz-Signature=SECRET",
		Err: errors.New("dial tcp 10.0.0.5:443: connect: connection refused")}
	log.Error().Err(fmt.Errorf("worker: %w", cause)).Msg("download failed")
	var nilErr *url.Error
	log.Info().Err(nilErr).Msg("typed nil")

	out, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"SECRET", "10.0.0.5", ":443"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("the log shows %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(string(out), "https://files.example/doc.pdf?REDACTED") || !strings.Contains(string(out), "connection refused") {
		t.Errorf("the log lost what the error said:\n%s", out)
	}
}

// TestPDFToTextCheck: a missing pdftotext makes /readyz fail when the local
// analyzer serves jobs, and only degrades it when model providers do.
func TestPDFToTextCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, path, provider string
		fails, degraded      bool
	}{
		{"installed", "pdftotext", config.ProviderLocal, false, false},
		{"missing, local analyzer", "no-such-pdftotext", config.ProviderLocal, true, false},
		{"missing, providers only", "no-such-pdftotext", config.ProviderAnthropic, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var cfg config.Config
			cfg.Tools.PDFToText = tt.path
			cfg.Analyzer.Provider = tt.provider
			err := pdftotextCheck(&cfg)(t.Context())
			if (err != nil) != tt.fails || errors.Is(err, api.ErrDegraded) != tt.degraded {
				t.Fatalf("check = %v; want failing %v, degraded %v", err, tt.fails, tt.degraded)
			}
			if err != nil && !strings.Contains(err.Error(), string(tasks.CodePDFToTextUnavailable)) {
				t.Errorf("check error %q does not name %s", err, tasks.CodePDFToTextUnavailable)
			}
		})
	}
}
