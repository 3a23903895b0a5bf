package schema_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/mmq/mmq/schema"
)

const invoice = `{
  "type": "object",
  "properties": {
    "number": {"type": "string"},
    "total": {"type": "number", "minimum": 0},
    "lines": {"type": "array", "items": {
      "type": "object",
      "properties": {"item": {"type": "string"}, "amount": {"type": "number"}},
      "required": ["item", "amount"],
      "additionalProperties": false
    }}
  },
  "required": ["number", "total"],
  "additionalProperties": false
}`

func TestCompileRefuses(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, schema, pointer, msg string
	}{
		{"not JSON", `{"type":`, "", "not valid JSON"},
		{"not an object", `[1,2]`, "", "must be a JSON object"},
		{"top not object", `{"type":"array"}`, "/type", `"type": "object"`},
		{"no type", `{"properties":{}}`, "/type", `"type": "object"`},
		{"bad keyword value", `{"type":"object","properties":{"a":{"type":"strin"}}}`, "/properties/a/type", ""},
		{"bad minimum", `{"type":"object","properties":{"a":{"minimum":"x"}}}`, "/properties/a/minimum", ""},
		{"external ref", `{"type":"object","properties":{"a":{"$ref":"https://example.com/s.json"}}}`, "", "external $ref"},
		{"file ref", `{"type":"object","properties":{"a":{"$ref":"file:///etc/passwd"}}}`, "", "external $ref"},
		{"old draft", `{"$schema":"http://json-schema.org/draft-04/schema#","type":"object"}`, "/$schema", "2020-12"},
		{"bad regex", `{"type":"object","properties":{"a":{"type":"string","pattern":"("}}}`, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := schema.Compile([]byte(c.schema), 64<<10)
			var se *schema.Error
			if !errors.As(err, &se) {
				t.Fatalf("Compile(%s) = %v, want a *schema.Error", c.schema, err)
			}
			if c.pointer != "" && se.Pointer != c.pointer {
				t.Errorf("pointer = %q, want %q (%v)", se.Pointer, c.pointer, err)
			}
			if !strings.Contains(se.Message, c.msg) {
				t.Errorf("message = %q, want it to contain %q", se.Message, c.msg)
			}
			if strings.Contains(err.Error(), "mmq:///") {
				t.Errorf("message names the internal resource URL: %v", err)
			}
		})
	}
}

func TestCompileSizeLimit(t *testing.T) {
	t.Parallel()
	big := `{"type":"object","description":"` + strings.Repeat("x", 1000) + `"}`
	if _, err := schema.Compile([]byte(big), 500); err == nil || !strings.Contains(err.Error(), "limit is 500") {
		t.Errorf("Compile of %d bytes with a 500-byte limit = %v", len(big), err)
	}
	if _, err := schema.Compile([]byte(big), 0); err != nil {
		t.Errorf("Compile without a limit: %v", err)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	s, err := schema.Compile([]byte(invoice), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Sum) != 64 || strings.ContainsAny(string(s.Raw), "\n ") {
		t.Errorf("Sum %q, Raw %s: want a hex SHA-256 and compact JSON", s.Sum, s.Raw)
	}
	cases := []struct {
		name, answer string
		// pointers lists where the issues must be; nil means valid.
		pointers []string
	}{
		{"valid", `{"number":"A-1","total":12.5,"lines":[{"item":"pen","amount":2.5},{"item":"ink","amount":10}]}`, nil},
		{"valid without optional", `{"number":"A-1","total":0}`, nil},
		{"missing required", `{"number":"A-1"}`, []string{""}},
		{"wrong type", `{"number":7,"total":1}`, []string{"/number"}},
		{"extra field", `{"number":"A","total":1,"vat":3}`, []string{""}},
		{"below minimum", `{"number":"A","total":-1}`, []string{"/total"}},
		{"nested array item wrong", `{"number":"A","total":1,"lines":[{"item":"pen","amount":1},{"item":"ink","amount":"ten"}]}`, []string{"/lines/1/amount"}},
		{"nested array item missing", `{"number":"A","total":1,"lines":[{"item":"pen"}]}`, []string{"/lines/0"}},
		{"not JSON", `total: 12`, []string{""}},
		{"array at top", `[{"number":"A"}]`, []string{""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			err := s.Validate([]byte(c.answer))
			if c.pointers == nil {
				if err != nil {
					t.Fatalf("Validate(%s) = %v, want valid", c.answer, err)
				}
				return
			}
			var mm *schema.MismatchError
			if !errors.As(err, &mm) {
				t.Fatalf("Validate(%s) = %v, want a *MismatchError", c.answer, err)
			}
			for _, p := range c.pointers {
				found := false
				for _, is := range mm.Issues {
					found = found || is.Pointer == p
				}
				if !found {
					t.Errorf("issues %+v: none at %q", mm.Issues, p)
				}
			}
		})
	}
}

func TestCacheCompilesOnce(t *testing.T) {
	t.Parallel()
	c := &schema.Cache{MaxBytes: 64 << 10, Size: 2}
	a, err := c.Compile([]byte(invoice))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Compile([]byte(invoice))
	if a != b {
		t.Error("the same schema compiled twice")
	}
	if _, err := c.Compile([]byte(`{"type":"string"}`)); err == nil {
		t.Error("an invalid schema was cached as valid")
	}
	// Past its size the cache starts over instead of growing.
	for _, s := range []string{`{"type":"object","title":"1"}`, `{"type":"object","title":"2"}`, `{"type":"object","title":"3"}`} {
		if _, err := c.Compile([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	if d, _ := c.Compile([]byte(invoice)); d == a {
		t.Error("the cache kept more entries than its size")
	}
}

func BenchmarkValidate(b *testing.B) {
	s, err := schema.Compile([]byte(invoice), 0)
	if err != nil {
		b.Fatal(err)
	}
	answer := []byte(`{"number":"A-1","total":12.5,"lines":[{"item":"pen","amount":2.5},{"item":"ink","amount":10}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Validate(answer); err != nil {
			b.Fatal(err)
		}
	}
}
