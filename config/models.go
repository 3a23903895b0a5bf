package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mmq/mmq/provider"
)

// Models configures the model providers and their controls: the keys under
// analyzer, providers, analysis, prices, cache and guardrails.
type Models struct {
	Analyzer   Analyzer   `mapstructure:"analyzer"`
	Providers  Providers  `mapstructure:"providers"`
	Analysis   Analysis   `mapstructure:"analysis"`
	Prices     []string   `mapstructure:"prices"`
	Cache      Cache      `mapstructure:"cache"`
	Guardrails Guardrails `mapstructure:"guardrails"`
}

// Provider names.
const (
	ProviderLocal     = "local"
	ProviderAnthropic = "anthropic"
	ProviderOpenAI    = "openai"
)

var providerNames = []string{ProviderLocal, ProviderAnthropic, ProviderOpenAI}

// Analyzer chooses who analyzes pages and frames.
type Analyzer struct {
	// Provider is local, anthropic or openai.
	Provider string `mapstructure:"provider"`
	// AllowedProviders may be chosen by a job's provider option.
	AllowedProviders []string `mapstructure:"allowed_providers"`
	// Fallback is tried in order when the chosen provider fails transiently
	// after its retries.
	Fallback []string `mapstructure:"fallback"`
}

// Providers configures the model APIs.
type Providers struct {
	Anthropic Provider `mapstructure:"anthropic"`
	OpenAI    Provider `mapstructure:"openai"`
}

// Provider configures one model API, its retries and its rate limits.
type Provider struct {
	BaseURL string `mapstructure:"base_url"`
	// APIKey falls back to ANTHROPIC_API_KEY or OPENAI_API_KEY.
	APIKey string `mapstructure:"api_key"`
	// Model is used where Routes names none.
	Model        string        `mapstructure:"model"`
	Timeout      time.Duration `mapstructure:"timeout"`
	MaxRetries   int           `mapstructure:"max_retries"`
	RetryBase    time.Duration `mapstructure:"retry_base"`
	RetryCap     time.Duration `mapstructure:"retry_cap"`
	MaxRetryWait time.Duration `mapstructure:"max_retry_wait"`
	// RequestsPerMinute and TokensPerMinute are shared by all workers, per
	// model; 0 means no limit.
	RequestsPerMinute int `mapstructure:"requests_per_minute"`
	TokensPerMinute   int `mapstructure:"tokens_per_minute"`
	Burst             int `mapstructure:"burst"`
	// PDFPageTokens estimates the image part of a page sent as a PDF
	// (Anthropic only).
	PDFPageTokens int `mapstructure:"pdf_page_tokens"`
	// ImageTokens estimates an image's tokens by resolution (long side in
	// pixels, as a string key).
	ImageTokens map[string]int `mapstructure:"image_tokens"`
	// Routes maps "<low|medium|high>_<image|text>" to a model.
	Routes map[string]string `mapstructure:"routes"`
	// Batch says whether economy mode uses the provider's batch API: auto
	// (the default: for the vendor's own base URL, never for a compatible
	// server such as vLLM or Ollama, which has none), enabled or disabled.
	Batch string `mapstructure:"batch"`
	// BatchPrices price economy mode's calls, "model=input/output" in USD
	// per million tokens like prices; a model absent here costs half its
	// price (the vendors' batch discount).
	BatchPrices []string `mapstructure:"batch_prices"`
}

// ImageTokensByResolution returns ImageTokens with integer keys.
func (p Provider) ImageTokensByResolution() (map[int]int, error) {
	m := make(map[int]int, len(p.ImageTokens))
	for k, v := range p.ImageTokens {
		px, err := strconv.Atoi(k)
		if err != nil || px <= 0 || v < 0 {
			return nil, fmt.Errorf("image_tokens %q: %d: want a resolution in pixels and a token count", k, v)
		}
		m[px] = v
	}
	return m, nil
}

// Analysis configures the analysis tasks a job may name.
type Analysis struct {
	Tasks map[string]AnalysisTask `mapstructure:"tasks"`
	// SchemaRetries is how many more times a page whose answer does not
	// validate against its job's schema is asked, with the errors fed
	// back, before it fails with schema_mismatch. Defaults to 2.
	SchemaRetries int `mapstructure:"schema_retries"`
	// CombineMaxInputTokens bounds one call that combines page answers
	// into a job's answer (scope document); larger jobs combine in rounds.
	// Defaults to 60000.
	CombineMaxInputTokens int `mapstructure:"combine_max_input_tokens"`
	// CombineMaxTokens bounds the combined answer. Defaults to 4096.
	CombineMaxTokens int `mapstructure:"combine_max_tokens"`
}

// AnalysisTask is one analysis task: how it is routed, at what resolution
// its images go, and its prompts (Go text/template).
type AnalysisTask struct {
	Complexity      string  `mapstructure:"complexity"`
	Resolution      int     `mapstructure:"resolution"`
	MaxTokens       int     `mapstructure:"max_tokens"`
	OutputTokens    int     `mapstructure:"output_tokens"`
	OutputTextRatio float64 `mapstructure:"output_text_ratio"`
	System          string  `mapstructure:"system"`
	Prompt          string  `mapstructure:"prompt"`
}

// Cache configures the Redis cache of model answers.
type Cache struct {
	Enabled bool          `mapstructure:"enabled"`
	TTL     time.Duration `mapstructure:"ttl"`
}

// Guardrails configures the check of model answers for personal data.
type Guardrails struct {
	Enabled bool `mapstructure:"enabled"`
	Redact  bool `mapstructure:"redact"`
}

// modelDefaults are the defaults of the Models keys; init adds them to
// Defaults.
var modelDefaults = map[string]any{
	"analyzer.provider":          "local",
	"analyzer.allowed_providers": []string{},
	"analyzer.fallback":          []string{},

	"providers.anthropic.base_url":            "https://api.anthropic.com",
	"providers.anthropic.api_key":             "",
	"providers.anthropic.model":               "claude-sonnet-4-5",
	"providers.anthropic.timeout":             duration(provider.DefaultTimeout),
	"providers.anthropic.max_retries":         provider.DefaultMaxRetries,
	"providers.anthropic.retry_base":          duration(provider.DefaultRetryBase),
	"providers.anthropic.retry_cap":           duration(provider.DefaultRetryCap),
	"providers.anthropic.max_retry_wait":      duration(provider.DefaultMaxRetryWait),
	"providers.anthropic.requests_per_minute": 50,
	"providers.anthropic.tokens_per_minute":   0,
	"providers.anthropic.burst":               provider.DefaultBurst,
	"providers.anthropic.pdf_page_tokens":     provider.DefaultPDFPageTokens,
	"providers.anthropic.image_tokens.256":    66,
	"providers.anthropic.image_tokens.512":    262,
	"providers.anthropic.image_tokens.1024":   1049,
	"providers.anthropic.image_tokens.1536":   1600,
	"providers.anthropic.routes.low_text":     "claude-haiku-4-5",
	"providers.anthropic.routes.low_image":    "claude-haiku-4-5",
	"providers.anthropic.routes.medium_text":  "",
	"providers.anthropic.routes.medium_image": "",
	"providers.anthropic.routes.high_text":    "",
	"providers.anthropic.routes.high_image":   "",
	"providers.anthropic.batch":               "auto",
	"providers.anthropic.batch_prices":        []string{},

	"providers.openai.base_url":            "https://api.openai.com/v1",
	"providers.openai.api_key":             "",
	"providers.openai.model":               "gpt-4o-mini",
	"providers.openai.timeout":             duration(provider.DefaultTimeout),
	"providers.openai.max_retries":         provider.DefaultMaxRetries,
	"providers.openai.retry_base":          duration(provider.DefaultRetryBase),
	"providers.openai.retry_cap":           duration(provider.DefaultRetryCap),
	"providers.openai.max_retry_wait":      duration(provider.DefaultMaxRetryWait),
	"providers.openai.requests_per_minute": 500,
	"providers.openai.tokens_per_minute":   0,
	"providers.openai.burst":               provider.DefaultBurst,
	"providers.openai.image_tokens.256":    255,
	"providers.openai.image_tokens.512":    255,
	"providers.openai.image_tokens.1024":   765,
	"providers.openai.image_tokens.1536":   765,
	"providers.openai.routes.low_text":     "",
	"providers.openai.routes.low_image":    "",
	"providers.openai.routes.medium_text":  "",
	"providers.openai.routes.medium_image": "",
	"providers.openai.routes.high_text":    "gpt-4o",
	"providers.openai.routes.high_image":   "gpt-4o",
	"providers.openai.batch":               "auto",
	"providers.openai.batch_prices":        []string{},

	"prices": []string{
		"claude-opus-4-1=15/75", "claude-sonnet-4-5=3/15", "claude-haiku-4-5=1/5",
		"gpt-4o=2.5/10", "gpt-4o-mini=0.15/0.6", "gpt-4.1=2/8", "gpt-4.1-mini=0.4/1.6",
	},

	"analysis.schema_retries":           provider.DefaultSchemaRetries,
	"analysis.combine_max_input_tokens": provider.DefaultCombineMaxInputTokens,
	"analysis.combine_max_tokens":       provider.DefaultCombineMaxTokens,

	"analysis.tasks.classification.complexity":        "low",
	"analysis.tasks.classification.resolution":        256,
	"analysis.tasks.classification.max_tokens":        256,
	"analysis.tasks.classification.output_tokens":     60,
	"analysis.tasks.classification.output_text_ratio": 0,
	"analysis.tasks.classification.system":            "You classify document pages and video frames. Answer with JSON only.",
	"analysis.tasks.classification.prompt":            `Classify this {{if .Frame}}video frame{{else}}page{{end}}. Answer {"category": one of "invoice", "receipt", "letter", "form", "report", "slide", "scientific", "photo", "other"; "confidence": a number from 0 to 1}.`,

	"analysis.tasks.general_qa.complexity":        "medium",
	"analysis.tasks.general_qa.resolution":        512,
	"analysis.tasks.general_qa.max_tokens":        1024,
	"analysis.tasks.general_qa.output_tokens":     300,
	"analysis.tasks.general_qa.output_text_ratio": 0,
	"analysis.tasks.general_qa.system":            "You are a careful analyst of documents and images. Answer with JSON only.",
	"analysis.tasks.general_qa.prompt":            `Describe this {{if .Frame}}video frame{{else}}page{{end}}. Answer {"summary": two or three sentences, "key_points": the main facts and figures, "entities": the people, organizations, places and dates named}.`,

	"analysis.tasks.text_extraction.complexity":        "medium",
	"analysis.tasks.text_extraction.resolution":        1024,
	"analysis.tasks.text_extraction.max_tokens":        4096,
	"analysis.tasks.text_extraction.output_tokens":     50,
	"analysis.tasks.text_extraction.output_text_ratio": 1,
	"analysis.tasks.text_extraction.system":            "You transcribe documents exactly.",
	"analysis.tasks.text_extraction.prompt":            "Transcribe all the text of this {{if .Frame}}video frame{{else}}page{{end}} in reading order, as plain text. Write tables as Markdown. Add nothing else.",

	"analysis.tasks.detail_analysis.complexity":        "high",
	"analysis.tasks.detail_analysis.resolution":        1536,
	"analysis.tasks.detail_analysis.max_tokens":        4096,
	"analysis.tasks.detail_analysis.output_tokens":     1200,
	"analysis.tasks.detail_analysis.output_text_ratio": 0.5,
	"analysis.tasks.detail_analysis.system":            "You are a meticulous analyst of documents and images. Answer with JSON only.",
	"analysis.tasks.detail_analysis.prompt":            `Analyze this {{if .Frame}}video frame{{else}}page{{end}} in detail. Answer {"layout": its structure, "text_blocks": every block of text with its role, "tables": each table as rows, "figures": each chart or picture with what it shows and its values, "observations": anything notable}.`,

	"cache.enabled": true,
	"cache.ttl":     duration(provider.DefaultCacheTTL),

	"guardrails.enabled": true,
	"guardrails.redact":  false,

	"tools.pdftoppm": "pdftoppm",
}

func init() {
	for k, v := range modelDefaults {
		Defaults[k] = v
	}
}

// applyKeyEnv fills empty API keys from the providers' own variables.
func (m *Models) applyKeyEnv() {
	if m.Providers.Anthropic.APIKey == "" {
		m.Providers.Anthropic.APIKey = os.Getenv("ANTHROPIC_API_KEY")
	}
	if m.Providers.OpenAI.APIKey == "" {
		m.Providers.OpenAI.APIKey = os.Getenv("OPENAI_API_KEY")
	}
}

// validate reports model settings that cannot work.
func (m *Models) validate() []error {
	var errs []error
	known := func(key, name string) {
		if !slices.Contains(providerNames, name) {
			errs = append(errs, fmt.Errorf("%s: %q: want one of %s", key, name, strings.Join(providerNames, ", ")))
		}
	}
	known("analyzer.provider", m.Analyzer.Provider)
	for _, n := range m.Analyzer.AllowedProviders {
		known("analyzer.allowed_providers", n)
	}
	for _, n := range m.Analyzer.Fallback {
		known("analyzer.fallback", n)
	}
	if m.Cache.TTL < time.Second {
		errs = append(errs, errors.New("cache.ttl must be at least 1s"))
	}
	if len(m.Analysis.Tasks) == 0 {
		errs = append(errs, errors.New("analysis.tasks is empty"))
	}
	if a := m.Analysis; a.SchemaRetries < 0 || a.SchemaRetries > 5 || a.CombineMaxInputTokens < 1000 || a.CombineMaxTokens < 16 {
		errs = append(errs, errors.New("analysis: schema_retries must be 0..5, combine_max_input_tokens at least 1000, combine_max_tokens at least 16"))
	}
	for name, p := range map[string]Provider{ProviderAnthropic: m.Providers.Anthropic, ProviderOpenAI: m.Providers.OpenAI} {
		if p.RequestsPerMinute < 0 || p.TokensPerMinute < 0 || p.Burst < 0 || p.MaxRetries < 0 {
			errs = append(errs, fmt.Errorf("providers.%s: rate limits and retries must not be negative", name))
		}
		if p.Batch != "" && p.Batch != "auto" && p.Batch != "enabled" && p.Batch != "disabled" {
			errs = append(errs, fmt.Errorf("providers.%s.batch: %q: want auto, enabled or disabled", name, p.Batch))
		}
		if _, err := p.ImageTokensByResolution(); err != nil {
			errs = append(errs, fmt.Errorf("providers.%s.%w", name, err))
		}
	}
	return errs
}

// Uses reports whether provider is the analyzer, a fallback or one a job
// may choose: whether it must be built.
func (m *Models) Uses(provider string) bool {
	return m.Analyzer.Provider == provider || slices.Contains(m.Analyzer.Fallback, provider) ||
		slices.Contains(m.Analyzer.AllowedProviders, provider)
}
