package provider_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mmq/mmq/internal/corpus"
	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/provider"
	"github.com/mmq/mmq/provider/providertest"
	"github.com/mmq/mmq/schema"
	"github.com/mmq/mmq/tasks"
)

// BenchmarkExtraction runs corpus pages through the Anthropic pipeline
// with the invoice schema, against the fake, side by side with the same
// pages without a schema, and reports: the schema validation's cost per
// page (µs, measured on the answers the pipeline validated), the pipeline's
// time per page with and without a schema, and the estimate before the
// calls against the cost accounted from the fake's usage (the goal is
// within ±15%).
func BenchmarkExtraction(b *testing.B) {
	data, err := os.ReadFile(corpus.Path("pdf", "pdfcpu-pike-stanford.pdf"))
	if err != nil {
		b.Skipf("corpus: %v", err)
	}
	ctx := context.Background()
	doc, err := media.OpenPDF(ctx, data, media.PDFOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var units []tasks.Unit
	for n := 1; n <= doc.PageCount(); n++ {
		page, err := doc.Page(ctx, n)
		if err != nil {
			b.Fatal(err)
		}
		units = append(units, tasks.Unit{JobID: "bench", Kind: tasks.KindDocument, Index: n, MIME: "application/pdf", Task: "general_qa", Data: page})
	}
	srv := providertest.NewAnthropic(b, testKey)
	// The fake model fills the invoice schema from the page's words: two
	// lines, as a short invoice has.
	// Both kinds of answer read the page's text, so that the fake costs the
	// same either way.
	srv.Answer = func(r providertest.Received) string {
		w := strings.Fields(providertest.PDFText(r.Parts[0].Data))
		if !strings.Contains(r.Prompt, "JSON Schema") {
			return providertest.DefaultAnswer(r)
		}
		for len(w) < 4 {
			w = append(w, "item")
		}
		return fmt.Sprintf(`{"number":%q,"total":%d,"lines":[{"item":%q,"amount":%d},{"item":%q,"amount":%d}]}`,
			w[0], len(w), w[1]+" "+w[2], len(w[1]), w[3], len(w[3]))
	}
	client, err := provider.NewAnthropic(provider.AnthropicConfig{HTTP: fastHTTP(srv.URL)})
	if err != nil {
		b.Fatal(err)
	}
	p, err := provider.NewPipeline(pipelineConfig("claude-default"), client)
	if err != nil {
		b.Fatal(err)
	}
	sch, _ := schema.Compile([]byte(invoiceSchema), 0)

	var estimated, accounted float64
	var plainDur, schemaDur, validate time.Duration
	var validated int
	b.ResetTimer()
	for b.Loop() {
		for _, u := range units {
			t0 := time.Now()
			if _, err := p.Analyze(ctx, u); err != nil {
				b.Fatal(err)
			}
			plainDur += time.Since(t0)

			u.Schema = json.RawMessage(invoiceSchema)
			e, err := p.Estimate(ctx, u)
			if err != nil {
				b.Fatal(err)
			}
			t0 = time.Now()
			an, err := p.Analyze(ctx, u)
			if err != nil {
				b.Fatal(err)
			}
			schemaDur += time.Since(t0)
			estimated += e.CostUSD
			accounted += an.CostUSD

			var o provider.Output
			_ = json.Unmarshal(an.Output, &o)
			t0 = time.Now()
			if err := sch.Validate(o.Data); err != nil {
				b.Fatal(err)
			}
			validate += time.Since(t0)
			validated++
		}
	}
	n := float64(validated)
	b.ReportMetric(float64(validate.Microseconds())/n, "validate-µs/page")
	b.ReportMetric(float64(plainDur.Microseconds())/n, "plain-µs/page")
	b.ReportMetric(float64(schemaDur.Microseconds())/n, "schema-µs/page")
	b.ReportMetric(estimated/accounted, "estimate/accounted")
	b.Logf("%d pages: estimate $%.4f, accounted $%.4f (%+.1f%%); validation %.1f µs a page; pipeline %.0f µs a page with the schema, %.0f without",
		validated, estimated, accounted, 100*(estimated/accounted-1), float64(validate.Microseconds())/n, float64(schemaDur.Microseconds())/n, float64(plainDur.Microseconds())/n)
}
