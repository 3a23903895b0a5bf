package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"testing"

	"github.com/mmq/mmq/tasks"
)

// The streamed batch bodies are exactly what Size counts, and valid: the
// Anthropic request one JSON object, the OpenAI file one JSON object a
// line; read in any chunk size.
func TestLinesReader(t *testing.T) {
	t.Parallel()
	lines := make([]tasks.BatchLine, 300)
	for i := range lines {
		lines[i] = tasks.BatchLine{CustomID: fmt.Sprintf("job-%d_p%d", i/7, i), Body: json.RawMessage(fmt.Sprintf(`{"n":%d,"s":"é"}`, i))}
	}
	tests := []struct {
		name             string
		open, sep, close string
		format           lineFormat
		valid            func([]byte) error
	}{
		{"anthropic", `{"requests":[`, ",", "]}", anthropicLine, func(b []byte) error {
			var v struct {
				Requests []struct {
					CustomID string          `json:"custom_id"`
					Params   json.RawMessage `json:"params"`
				} `json:"requests"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				return err
			}
			if len(v.Requests) != len(lines) || v.Requests[299].CustomID != lines[299].CustomID || string(v.Requests[5].Params) != string(lines[5].Body) {
				return fmt.Errorf("decoded %d requests", len(v.Requests))
			}
			return nil
		}},
		{"openai", "", "", "", openAILine, func(b []byte) error {
			dec := json.NewDecoder(bytes.NewReader(b))
			for i := range lines {
				var l struct {
					CustomID    string `json:"custom_id"`
					Method, URL string
					Body        json.RawMessage
				}
				if err := dec.Decode(&l); err != nil {
					return err
				}
				if l.CustomID != lines[i].CustomID || l.Method != "POST" || l.URL != "/v1/chat/completions" || string(l.Body) != string(lines[i].Body) {
					return fmt.Errorf("line %d: %+v", i, l)
				}
			}
			return nil
		}},
	}
	for _, tt := range tests {
		for _, chunk := range []int{1, 7, 4096} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, chunk), func(t *testing.T) {
				t.Parallel()
				r := &linesReader{open: tt.open, sep: tt.sep, close: tt.close, format: tt.format, lines: lines}
				b, err := readChunks(r, chunk)
				if err != nil {
					t.Fatal(err)
				}
				if want := bodySize(tt.open, tt.sep, tt.close, tt.format, lines); int64(len(b)) != want {
					t.Errorf("read %d bytes, Size says %d", len(b), want)
				}
				if err := tt.valid(b); err != nil {
					t.Error(err)
				}
			})
		}
	}
}

func readChunks(r io.Reader, n int) ([]byte, error) {
	var out []byte
	buf := make([]byte, n)
	for {
		k, err := r.Read(buf)
		out = append(out, buf[:k]...)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
	}
}
