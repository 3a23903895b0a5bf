package provider

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/mmq/mmq/tasks"
)

// Complexity grades an analysis task for model routing.
type Complexity string

// Complexities, from cheap to thorough.
const (
	Low    Complexity = "low"
	Medium Complexity = "medium"
	High   Complexity = "high"
)

// Valid reports whether c is a known complexity.
func (c Complexity) Valid() bool { return c == Low || c == Medium || c == High }

// TaskConfig is how one analysis task (a job's Options.Task) is run.
type TaskConfig struct {
	// Complexity picks the model from the routing table. Defaults to medium.
	Complexity Complexity
	// Resolution is the long side, in pixels, that images are downscaled
	// to (and PDF pages rendered at, for providers that take no PDF).
	// Defaults to 512.
	Resolution int
	// System and Prompt are text/template templates of the system and user
	// prompts; see PromptData for what they may use. Prompt is required.
	System, Prompt string
	// MaxTokens bounds the answer. Defaults to 1024.
	MaxTokens int
	// OutputTokens is the expected answer length, for estimates and rate
	// limits. Defaults to MaxTokens/4.
	OutputTokens int
	// OutputTextRatio adds that many answer tokens per token of page text
	// to the expected answer: 1 for a task that transcribes the page, 0 for
	// one that answers briefly whatever the page holds.
	OutputTextRatio float64
}

// PromptData is what prompt templates see.
type PromptData struct {
	// Task is the task's name.
	Task string
	// Frame is true for a video frame, false for a document page.
	Frame bool
	// Index is the page number (from 1) or frame index (from 0).
	Index int
	// Timestamp is a frame's time in seconds.
	Timestamp float64
}

// task is a TaskConfig ready to use.
type task struct {
	TaskConfig
	system, prompt *template.Template
}

func newTask(name string, c TaskConfig) (*task, error) {
	if c.Complexity == "" {
		c.Complexity = Medium
	}
	if !c.Complexity.Valid() {
		return nil, fmt.Errorf("provider: task %s: complexity %q: want low, medium or high", name, c.Complexity)
	}
	if c.Resolution == 0 {
		c.Resolution = 512
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 1024
	}
	if c.OutputTokens == 0 {
		c.OutputTokens = c.MaxTokens / 4
	}
	switch {
	case c.Resolution < 16 || c.Resolution > 8192:
		return nil, fmt.Errorf("provider: task %s: resolution %d out of range 16..8192", name, c.Resolution)
	case c.MaxTokens < 0 || c.OutputTokens < 0 || c.OutputTextRatio < 0:
		return nil, fmt.Errorf("provider: task %s: token counts must not be negative", name)
	case strings.TrimSpace(c.Prompt) == "":
		return nil, fmt.Errorf("provider: task %s has no prompt", name)
	}
	t := &task{TaskConfig: c}
	var err error
	if t.system, err = template.New(name + ".system").Option("missingkey=error").Parse(c.System); err != nil {
		return nil, fmt.Errorf("provider: task %s: system prompt: %w", name, err)
	}
	if t.prompt, err = template.New(name + ".prompt").Option("missingkey=error").Parse(c.Prompt); err != nil {
		return nil, fmt.Errorf("provider: task %s: prompt: %w", name, err)
	}
	// Render once now, so that a template error shows at startup.
	if _, _, err := t.render(tasks.Unit{Task: name, Kind: tasks.KindDocument, Index: 1}); err != nil {
		return nil, err
	}
	return t, nil
}

// render returns the system and user prompts for u.
func (t *task) render(u tasks.Unit) (system, prompt string, err error) {
	d := PromptData{Task: u.Task, Frame: u.Kind == tasks.KindVideo, Index: u.Index, Timestamp: u.Timestamp}
	var b strings.Builder
	if err := t.system.Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("provider: task %s: system prompt: %w", u.Task, err)
	}
	system = b.String()
	b.Reset()
	if err := t.prompt.Execute(&b, d); err != nil {
		return "", "", fmt.Errorf("provider: task %s: prompt: %w", u.Task, err)
	}
	return system, b.String(), nil
}

// Routes is the routing table: the model for each task complexity and
// kind of input, keyed "<complexity>_image" and "<complexity>_text" (a
// page without raster images is "text"; a frame is always "image"). An
// absent or empty entry means the provider's default model.
type Routes map[string]string

// RouteKey is the key of Routes for complexity c and an input with or
// without images.
func RouteKey(c Complexity, hasImage bool) string {
	if hasImage {
		return string(c) + "_image"
	}
	return string(c) + "_text"
}

// Model returns the model for c and hasImage, or def.
func (r Routes) Model(c Complexity, hasImage bool, def string) string {
	if m := r[RouteKey(c, hasImage)]; m != "" {
		return m
	}
	return def
}

func (r Routes) validate() error {
	for k := range r {
		c, kind, ok := strings.Cut(k, "_")
		if !ok || !Complexity(c).Valid() || (kind != "image" && kind != "text") {
			return fmt.Errorf("provider: routing key %q: want <low|medium|high>_<image|text>", k)
		}
	}
	return nil
}
