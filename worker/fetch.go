package worker

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/mmq/mmq/ssrf"
	"github.com/mmq/mmq/tasks"
)

// FetchConfig configures downloads of inputs submitted by URL.
type FetchConfig struct {
	// Timeout bounds one download. Defaults to 60 s.
	Timeout time.Duration
	// MaxBytes refuses larger inputs. Defaults to 100 MiB.
	MaxBytes int64
	// SSRF says which addresses inputs may be downloaded from; its zero
	// value refuses loopback, private, link-local and the other special
	// networks. It is ignored when Client is set.
	SSRF ssrf.Config
	// Client makes the requests. Defaults to ssrf.NewClient(SSRF) with
	// Timeout: every connection, redirects' too, goes through the guard.
	Client *http.Client
}

func (c *FetchConfig) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 60 * time.Second
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = 100 << 20
	}
	if c.Client == nil {
		c.Client = ssrf.NewClient(c.SSRF)
		c.Client.Timeout = c.Timeout
	}
}

// fetch downloads url. A 4xx answer or an oversized body is permanent; a
// network error or a 5xx is transient and left to the task's retry.
func fetch(ctx context.Context, cfg FetchConfig, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidURL, err, "the input URL is not valid")
	}
	resp, err := cfg.Client.Do(req)
	switch {
	case errors.Is(err, ssrf.ErrRefused):
		return nil, tasks.WrapError(tasks.CodeInvalidURL, err, "the input URL leads to an address this server may not reach")
	case errors.Is(err, ssrf.ErrInvalidURL), errors.Is(err, ssrf.ErrTooManyRedirects):
		return nil, tasks.WrapError(tasks.CodeFetchFailed, err, "the input URL redirects where this server does not follow")
	case err != nil:
		return nil, tasks.WrapError(tasks.CodeUnavailable, err, "could not download the input")
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, tasks.Errorf(tasks.CodeUnavailable, "downloading the input failed: HTTP %d", resp.StatusCode)
	case resp.StatusCode >= 300:
		return nil, tasks.Errorf(tasks.CodeFetchFailed, "downloading the input failed: HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, cfg.MaxBytes+1))
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeUnavailable, err, "could not download the input")
	}
	if int64(len(data)) > cfg.MaxBytes {
		return nil, tasks.Errorf(tasks.CodeFileTooLarge, "the input is larger than %d bytes", cfg.MaxBytes)
	}
	return data, nil
}
