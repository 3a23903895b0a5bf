package providertest_test

import (
	"encoding/json"
	"testing"

	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/schema"
)

// SchemaAnswer's answer validates against the schema it was made from.
func TestSchemaAnswerValidates(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, schema string }{
		{"flat", `{"type":"object","properties":{"s":{"type":"string"},"i":{"type":"integer"},"n":{"type":"number"},"b":{"type":"boolean"}},
			"required":["s","i","n","b"],"additionalProperties":false}`},
		{"enum and const", `{"type":"object","properties":{"c":{"enum":["EUR","USD"]},"k":{"const":7}},"required":["c","k"]}`},
		{"nested array of objects", `{"type":"object","properties":{"lines":{"type":"array","minItems":2,"items":{"type":"object",
			"properties":{"item":{"type":"string"},"amount":{"type":"number"}},"required":["item","amount"],"additionalProperties":false}}},
			"required":["lines"],"additionalProperties":false}`},
		{"bounds", `{"type":"object","properties":{"n":{"type":"integer","minimum":10,"maximum":20},"x":{"type":"number","exclusiveMaximum":1},
			"s":{"type":"string","minLength":12}},"required":["n","x","s"]}`},
		{"formats", `{"type":"object","properties":{"d":{"type":"string","format":"date"},"e":{"type":"string","format":"email"}},"required":["d","e"]}`},
		{"nullable and anyOf", `{"type":"object","properties":{"a":{"type":["string","null"]},"b":{"anyOf":[{"type":"number"},{"type":"null"}]}},
			"required":["a","b"],"additionalProperties":false}`},
		{"local ref", `{"type":"object","properties":{"line":{"$ref":"#/$defs/line"}},"required":["line"],
			"$defs":{"line":{"type":"object","properties":{"q":{"type":"integer"}},"required":["q"]}}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := schema.Compile([]byte(tt.schema), 0)
			if err != nil {
				t.Fatal(err)
			}
			answer := providertest.SchemaAnswer(json.RawMessage(tt.schema))
			if err := s.Validate([]byte(answer)); err != nil {
				t.Errorf("SchemaAnswer = %s: %v", answer, err)
			}
			if again := providertest.SchemaAnswer(json.RawMessage(tt.schema)); again != answer {
				t.Errorf("SchemaAnswer is not deterministic: %s, then %s", answer, again)
			}
		})
	}
	if got := providertest.SchemaAnswer(json.RawMessage(`not json`)); got != "{}" {
		t.Errorf("SchemaAnswer(not json) = %s, want {}", got)
	}
}
