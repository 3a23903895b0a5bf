package analyzer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/tasks"
)

func TestTestingAnalyzers(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(t.Context())
	cancel()

	tests := []struct {
		name    string
		a       analyzer.Analyzer
		ctx     context.Context
		want    string
		wantErr error
	}{
		{"noop", analyzer.Noop{}, t.Context(), `{"page":3}`, nil},
		{"noop canceled", analyzer.Noop{}, canceled, "", context.Canceled},
		{"sleep", analyzer.Sleep{D: time.Millisecond}, t.Context(), `{"page":3}`, nil},
		{"sleep zero", analyzer.Sleep{}, t.Context(), `{"page":3}`, nil},
		// A canceled context must end even an hour's sleep at once.
		{"sleep canceled", analyzer.Sleep{D: time.Hour}, canceled, "", context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.a.Analyze(tt.ctx, tasks.Unit{Kind: tasks.KindDocument, Index: 3})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Analyze error = %v, want %v", err, tt.wantErr)
			}
			if string(got.Output) != tt.want {
				t.Errorf("Output = %s, want %s", got.Output, tt.want)
			}
		})
	}
}
