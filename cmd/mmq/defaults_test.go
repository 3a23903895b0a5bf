package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/mmq/mmq/api"
	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/s3blob"
	"github.com/mmq/mmq/webhook"
)

// The configuration's defaults of the keys whose packages config may not
// import (api, which nothing imports, and media, webhook and s3blob, which
// it has no other use for) agree with those packages' own defaults, so that a
// part built without the configuration behaves as one built with it.
// config.Defaults takes the other packages' constants directly.
func TestConfigDefaultsMatchPackages(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]any{
		"api.body_min_rate":              api.DefaultBodyMinRate,
		"api.body_grace":                 api.DefaultBodyGrace,
		"api.max_upload_bytes_in_flight": api.DefaultMaxUploadBytesInFlight,
		"api.max_streams":                api.DefaultMaxStreams,
		"api.max_streams_per_key":        api.DefaultMaxStreamsPerKey,
		"limits.max_upload_bytes":        api.DefaultMaxUploadBytes,
		"limits.max_pages":               api.DefaultMaxPages,
		"limits.max_frames":              media.DefaultMaxFrames,
		"limits.max_video_duration":      media.DefaultMaxVideoDuration,
		"limits.max_video_dimension":     media.DefaultMaxVideoDimension,
		"limits.max_video_pixels":        media.DefaultMaxVideoPixels,
		"limits.max_decode_pixels":       media.DefaultMaxDecodePixels,
		"limits.max_image_pixels":        media.DefaultMaxImagePixels,
		"video.default_sample":           media.DefaultSample,
		"video.ffmpeg_timeout":           media.DefaultVideoTimeout,
		"video.probe_timeout":            media.DefaultProbeTimeout,
		"webhooks.timeout":               webhook.DefaultTimeout,
		"blobs.s3.prefix":                s3blob.DefaultPrefix,
	} {
		got, ok := config.Defaults[key]
		if !ok {
			t.Errorf("config.Defaults has no %s", key)
			continue
		}
		if d, isDuration := want.(time.Duration); isDuration {
			s, _ := got.(string)
			if parsed, err := time.ParseDuration(s); err != nil || parsed != d {
				t.Errorf("%s: config default %v, package default %v", key, got, d)
			}
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: config default %v, package default %v", key, got, want)
		}
	}
}
