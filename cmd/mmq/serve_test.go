package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mmq/mmq/config"
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
