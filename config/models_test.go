package config_test

import (
	"slices"
	"testing"

	"github.com/mmq/mmq/config"
)

// The keys operators and scripts rely on, from the environment.
func TestModelKeysFromEnvironment(t *testing.T) {
	t.Setenv("MMQ_ANALYZER_PROVIDER", "anthropic")
	t.Setenv("MMQ_ANALYZER_FALLBACK", "openai,local")
	t.Setenv("ANTHROPIC_API_KEY", "sk-ant-from-env")
	t.Setenv("OPENAI_API_KEY", "sk-openai-generic")
	t.Setenv("MMQ_PROVIDERS_OPENAI_API_KEY", "sk-openai-specific")
	t.Setenv("MMQ_PROVIDERS_OPENAI_BASE_URL", "http://localhost:11434/v1")
	t.Setenv("MMQ_PROVIDERS_ANTHROPIC_MODEL", "claude-haiku-4-5")
	t.Setenv("MMQ_CACHE_ENABLED", "false")
	t.Setenv("MMQ_GUARDRAILS_REDACT", "true")
	c, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"analyzer.provider", c.Analyzer.Provider, "anthropic"},
		{"ANTHROPIC_API_KEY", c.Providers.Anthropic.APIKey, "sk-ant-from-env"},
		{"MMQ_ key beats OPENAI_API_KEY", c.Providers.OpenAI.APIKey, "sk-openai-specific"},
		{"providers.openai.base_url", c.Providers.OpenAI.BaseURL, "http://localhost:11434/v1"},
		{"providers.anthropic.model", c.Providers.Anthropic.Model, "claude-haiku-4-5"},
		{"cache.enabled", c.Cache.Enabled, false},
		{"guardrails.redact", c.Guardrails.Redact, true},
		{"routes kept", c.Providers.Anthropic.Routes["low_text"], "claude-haiku-4-5"},
		{"tasks", len(c.Analysis.Tasks), 4},
		{"resolution", c.Analysis.Tasks["detail_analysis"].Resolution, 1536},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if !slices.Equal(c.Analyzer.Fallback, []string{"openai", "local"}) {
		t.Errorf("fallback = %q", c.Analyzer.Fallback)
	}
	if it, err := c.Providers.OpenAI.ImageTokensByResolution(); err != nil || it[1024] != 765 {
		t.Errorf("image tokens %v, %v", it, err)
	}
}

func TestModelKeysValidated(t *testing.T) {
	t.Setenv("MMQ_ANALYZER_PROVIDER", "gemini")
	if _, err := config.Load("", nil); err == nil {
		t.Error("unknown provider accepted")
	}
}
