package provider_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

const testKey = "sk-test-key"

// testTasks are the analysis tasks the tests run.
var testTasks = map[string]provider.TaskConfig{
	"general_qa": {Complexity: provider.Medium, Resolution: 512, System: "You analyze documents.",
		Prompt: "Describe this {{if .Frame}}frame{{else}}page{{end}}. Answer in JSON.", MaxTokens: 1024, OutputTokens: 300},
	"text_extraction": {Complexity: provider.Medium, Resolution: 1024, Prompt: "Extract the text of page {{.Index}}.",
		MaxTokens: 4096, OutputTokens: 20, OutputTextRatio: 1},
	"classification": {Complexity: provider.Low, Resolution: 256, Prompt: "Classify page {{.Index}}.", MaxTokens: 64},
}

var testPrices = provider.Prices{
	"claude-text":  {Input: 3, Output: 15},
	"claude-image": {Input: 3, Output: 15},
	"claude-haiku": {Input: 1, Output: 5},
	"gpt-vision":   {Input: 2.5, Output: 10},
}

// fastHTTP is an HTTPConfig whose retries are quick enough for tests.
func fastHTTP(url string) provider.HTTPConfig {
	return provider.HTTPConfig{
		BaseURL:    url,
		APIKey:     testKey,
		Timeout:    2 * time.Second,
		MaxRetries: 3,
		Backoff:    tasks.Backoff{Base: 20 * time.Millisecond, Cap: 100 * time.Millisecond},
	}
}

func newAnthropic(t *testing.T, srv *providertest.Server, mod func(*provider.HTTPConfig)) *provider.Anthropic {
	t.Helper()
	cfg := fastHTTP(srv.URL)
	if mod != nil {
		mod(&cfg)
	}
	c, err := provider.NewAnthropic(provider.AnthropicConfig{HTTP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newOpenAI(t *testing.T, srv *providertest.Server, mod func(*provider.HTTPConfig)) *provider.OpenAI {
	t.Helper()
	cfg := fastHTTP(srv.URL + "/v1")
	if mod != nil {
		mod(&cfg)
	}
	c, err := provider.NewOpenAI(provider.OpenAIConfig{HTTP: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pipelineConfig is a PipelineConfig for the fakes' models.
func pipelineConfig(model string) provider.PipelineConfig {
	return provider.PipelineConfig{
		Model:       model,
		Routes:      provider.Routes{"medium_text": "claude-text", "medium_image": "claude-image", "low_text": "claude-haiku", "low_image": "claude-haiku"},
		Tasks:       testTasks,
		Prices:      testPrices,
		ImageTokens: provider.ImageTokens{256: 255, 512: 255, 1024: 765, 1536: 765},
	}
}

func newPipeline(t *testing.T, cfg provider.PipelineConfig, c provider.Client) *provider.Pipeline {
	t.Helper()
	p, err := provider.NewPipeline(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// testdata reads a PDF of the analyzer's test data.
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "analyzer", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func pageUnit(t testing.TB, name, task string) tasks.Unit {
	t.Helper()
	return tasks.Unit{JobID: "job-1", Kind: tasks.KindDocument, Index: 1, MIME: "application/pdf", Task: task, Data: testdata(t, name)}
}

// frameUnit is a w×h PNG video frame.
func frameUnit(t testing.TB, w, h int) tasks.Unit {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), uint8(x + y), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return tasks.Unit{JobID: "job-v", Kind: tasks.KindVideo, Index: 0, MIME: "image/png", Task: "general_qa", Data: buf.Bytes(), Width: w, Height: h}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
