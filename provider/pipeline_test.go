package provider_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"math"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/internal/redistest"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/tasks"
)

func output(t *testing.T, an tasks.Analysis) provider.Output {
	t.Helper()
	var o provider.Output
	if err := json.Unmarshal(an.Output, &o); err != nil {
		t.Fatalf("output %s: %v", an.Output, err)
	}
	return o
}

// A page goes to Anthropic as a PDF document block; the model is routed by
// whether the page holds images; usage, cost and timings are recorded.
func TestPipelineAnthropicPage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		page, task, model string
	}{
		{"letter-text.pdf", "general_qa", "claude-text"},
		{"letter-image.pdf", "general_qa", "claude-image"},
		{"letter-text.pdf", "classification", "claude-haiku"},
	}
	for _, tt := range tests {
		t.Run(tt.page+"/"+tt.task, func(t *testing.T) {
			t.Parallel()
			srv := providertest.NewAnthropic(t, testKey)
			p := newPipeline(t, pipelineConfig("claude-default"), newAnthropic(t, srv, nil))
			u := pageUnit(t, tt.page, tt.task)
			an, err := p.Analyze(ctxT(t), u)
			if err != nil {
				t.Fatal(err)
			}
			r := srv.Requests()[0]
			if r.Model != tt.model || len(r.Parts) != 1 || r.Parts[0].MIME != "application/pdf" || !bytes.Equal(r.Parts[0].Data, u.Data) {
				t.Fatalf("server got model %q, parts %d", r.Model, len(r.Parts))
			}
			in, out := providertest.AnthropicUsage(r, providertest.DefaultAnswer(r))
			if an.InputTokens != in || an.OutputTokens != out || an.Model != tt.model || an.Analyzer != "anthropic" {
				t.Errorf("analysis %+v, want %d/%d tokens of %s", an, in, out, tt.model)
			}
			wantCost, _ := testPrices.Cost(tt.model, in, out)
			if math.Abs(an.CostUSD-wantCost) > 1e-12 {
				t.Errorf("cost %v, want %v", an.CostUSD, wantCost)
			}
			m := an.PageMetrics()
			if m.ImageCount != 1 || m.Resolution != 0 || m.CostUSD != an.CostUSD || m.Cache != "" || m.Provider != "anthropic" {
				t.Errorf("metrics %+v", m)
			}
			if o := output(t, an); o.Data == nil || o.StopReason != "end_turn" {
				t.Errorf("output %+v: want the JSON answer parsed", o)
			}
		})
	}
}

// OpenAI gets the page rendered at the task's resolution, a frame gets
// downscaled to it; a frame already small goes as it is.
func TestPipelineImages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		openai   bool
		unit     func(t *testing.T) tasks.Unit
		wantLong int
		wantMIME string
	}{
		{"page to openai at 1024", true, func(t *testing.T) tasks.Unit { return pageUnit(t, "letter-image.pdf", "text_extraction") }, 1024, "image/png"},
		{"page to openai at 256", true, func(t *testing.T) tasks.Unit { return pageUnit(t, "a4-text.pdf", "classification") }, 256, "image/png"},
		{"frame to anthropic at 512", false, func(t *testing.T) tasks.Unit { return frameUnit(t, 1280, 720) }, 512, "image/png"},
		{"small frame as it is", false, func(t *testing.T) tasks.Unit { return frameUnit(t, 320, 200) }, 320, "image/png"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *providertest.Server
			var c provider.Client
			if tt.openai {
				srv = providertest.NewOpenAI(t, testKey)
				c = newOpenAI(t, srv, nil)
			} else {
				srv = providertest.NewAnthropic(t, testKey)
				c = newAnthropic(t, srv, nil)
			}
			an, err := newPipeline(t, pipelineConfig("gpt-vision"), c).Analyze(ctxT(t), tt.unit(t))
			if err != nil {
				t.Fatal(err)
			}
			p := srv.Requests()[0].Parts[0]
			cfg, _, err := image.DecodeConfig(bytes.NewReader(p.Data))
			if err != nil {
				t.Fatal(err)
			}
			if long := max(cfg.Width, cfg.Height); long != tt.wantLong || p.MIME != tt.wantMIME {
				t.Errorf("sent %s %dx%d, want long side %d", p.MIME, cfg.Width, cfg.Height, tt.wantLong)
			}
			if tt.openai {
				want := providertest.GPTImageTokens(cfg.Width, cfg.Height)
				if in, _ := providertest.OpenAIUsage(srv.Requests()[0], ""); an.InputTokens != in || in < want {
					t.Errorf("input tokens %d, want %d (image %d)", an.InputTokens, in, want)
				}
			}
		})
	}
}

func newCache(t *testing.T, rdb *redis.Client) *provider.Cache {
	t.Helper()
	c, err := provider.NewCache(rdb, provider.CacheConfig{Prefix: "test:cache:" + t.Name() + ":"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The second identical page, of another job, is answered from the cache at
// no cost; another task or model is a miss. Identical pages analyzed at
// the same moment make one call.
func TestPipelineCache(t *testing.T) {
	rdb := redistest.New(t, redistest.DBProvider)
	srv := providertest.NewAnthropic(t, testKey)
	cfg := pipelineConfig("claude-default")
	cfg.Cache = newCache(t, rdb)
	p := newPipeline(t, cfg, newAnthropic(t, srv, nil))
	ctx := ctxT(t)

	u := pageUnit(t, "letter-text.pdf", "general_qa")
	first, err := p.Analyze(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	u.JobID, u.Index = "job-2", 7
	second, err := p.Analyze(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	if srv.Count() != 1 {
		t.Fatalf("%d calls for two identical pages, want 1", srv.Count())
	}
	if m := first.PageMetrics(); m.Cache != tasks.CacheMiss || m.CostUSD == 0 {
		t.Errorf("first: %+v", m)
	}
	if m := second.PageMetrics(); m.Cache != tasks.CacheHit || m.CostUSD != 0 || m.InputTokens != 0 || m.Model != "claude-text" {
		t.Errorf("second: %+v", m)
	}
	if output(t, first).Text != output(t, second).Text {
		t.Error("the cached answer differs")
	}

	u.Task = "classification"
	if _, err := p.Analyze(ctx, u); err != nil {
		t.Fatal(err)
	}
	if srv.Count() != 2 {
		t.Errorf("another task was answered from the cache")
	}

	// Five identical new pages at once: one call.
	frame := frameUnit(t, 100, 80)
	var wg sync.WaitGroup
	hits := make(chan string, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			an, err := p.Analyze(ctx, frame)
			if err != nil {
				t.Error(err)
				return
			}
			hits <- an.Metrics.Cache
		}()
	}
	wg.Wait()
	close(hits)
	if srv.Count() != 3 {
		t.Errorf("%d calls after five concurrent identical frames, want 3", srv.Count())
	}
	n := 0
	for h := range hits {
		if h == tasks.CacheHit {
			n++
		}
	}
	if n != 4 {
		t.Errorf("%d hits among five concurrent identical frames, want 4", n)
	}
}

// The guardrail flags personal data in the answer and, when asked,
// redacts it, in the text and in the parsed JSON.
func TestPipelineGuardrail(t *testing.T) {
	t.Parallel()
	const answer = `{"contact":"jane.doe@example.com","card":"4111 1111 1111 1111","phone":"+44 20 7946 0958"}`
	for _, redact := range []bool{false, true} {
		srv := providertest.NewAnthropic(t, testKey)
		srv.Answer = func(providertest.Received) string { return answer }
		cfg := pipelineConfig("claude-default")
		cfg.Guardrail = &provider.Guardrail{Redact: redact}
		an, err := newPipeline(t, cfg, newAnthropic(t, srv, nil)).Analyze(ctxT(t), pageUnit(t, "hello.pdf", "general_qa"))
		if err != nil {
			t.Fatal(err)
		}
		o := output(t, an)
		if len(o.GuardrailFlags) != 3 || o.Redacted != redact {
			t.Errorf("redact=%v: flags %+v, redacted %v", redact, o.GuardrailFlags, o.Redacted)
		}
		if got := bytes.Contains(o.Data, []byte("jane.doe")); got == redact {
			t.Errorf("redact=%v: data %s", redact, o.Data)
		}
	}
}

// A task without a prompt is refused for good, before any call.
func TestPipelineUnknownTask(t *testing.T) {
	t.Parallel()
	srv := providertest.NewAnthropic(t, testKey)
	p := newPipeline(t, pipelineConfig("m"), newAnthropic(t, srv, nil))
	_, err := p.Analyze(context.Background(), pageUnit(t, "hello.pdf", "poetry"))
	if tasks.ErrorCode(err) != tasks.CodeInvalidRequest || !tasks.IsPermanent(err) || srv.Count() != 0 {
		t.Fatalf("err = %v, %d calls", err, srv.Count())
	}
}
