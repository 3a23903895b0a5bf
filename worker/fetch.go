package worker

import (
	"context"
	"errors"
	"io"
	"net/http"
	neturl "net/url"
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
		c.Timeout = DefaultFetchTimeout
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = tasks.DefaultMaxUploadBytes
	}
	if c.Client == nil {
		c.Client = ssrf.NewClient(c.SSRF)
		c.Client.Timeout = c.Timeout
	}
}

// fetch downloads url. A 4xx answer or an oversized body is permanent; a
// network error or a 5xx is transient and left to the task's retry.
//
// Its errors are stored on the job and logged, so none names an address or
// carries the URL's query string (where presigned URLs keep their
// signature): the message says in a few words what failed (ssrf.PublicError)
// and the cause is redacted (ssrf.RedactError).
func fetch(ctx context.Context, cfg FetchConfig, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, tasks.WrapError(tasks.CodeInvalidURL, ssrf.RedactError(err), "the input URL is not valid")
	}
	resp, err := cfg.Client.Do(req)
	if err != nil {
		err = ssrf.RedactError(withoutURL(err))
	}
	switch {
	case errors.Is(err, ssrf.ErrRefused):
		return nil, tasks.WrapError(tasks.CodeInvalidURL, err, "the input URL leads to an address this server may not reach")
	case errors.Is(err, ssrf.ErrInvalidURL), errors.Is(err, ssrf.ErrTooManyRedirects):
		return nil, tasks.WrapError(tasks.CodeFetchFailed, err, "the input URL redirects where this server does not follow")
	case err != nil:
		return nil, tasks.WrapError(tasks.CodeUnavailable, err, "could not download the input: "+ssrf.PublicError(err))
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
		return nil, tasks.WrapError(tasks.CodeUnavailable, ssrf.RedactError(err), "could not download the input: "+ssrf.PublicError(err))
	}
	if int64(len(data)) > cfg.MaxBytes {
		return nil, tasks.Errorf(tasks.CodeFileTooLarge, "the input is larger than %d bytes", cfg.MaxBytes)
	}
	return data, nil
}

// withoutURL returns err, which http.Client.Do returns as an *url.Error
// holding the whole URL, with that URL in ssrf.RedactURL's form.
func withoutURL(err error) error {
	if ue, ok := err.(*neturl.Error); ok {
		return &neturl.Error{Op: ue.Op, URL: ssrf.RedactURL(ue.URL), Err: ue.Err}
	}
	return err
}
