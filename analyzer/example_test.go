package analyzer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/mmq/mmq/analyzer"
	"github.com/mmq/mmq/tasks"
)

// A Local without pdftotext still reports a page's facts, with a rough text
// from the content stream.
func ExampleLocal_Analyze() {
	l, err := analyzer.NewLocal(analyzer.LocalConfig{PDFToTextPath: "/nonexistent/pdftotext"})
	if err != nil {
		log.Fatal(err)
	}
	page, err := os.ReadFile("testdata/hello.pdf")
	if err != nil {
		log.Fatal(err)
	}
	a, err := l.Analyze(context.Background(), tasks.Unit{
		Kind: tasks.KindDocument, Index: 1, Data: page, MIME: "application/pdf",
	})
	if err != nil {
		log.Fatal(err)
	}
	var f analyzer.PageFacts
	if err := json.Unmarshal(a.Output, &f); err != nil {
		log.Fatal(err)
	}
	fmt.Println(l.TextExtractor(), a.Analyzer)
	fmt.Printf("%v x %v pt, %d words: %q from %s\n", f.WidthPt, f.HeightPt, f.WordCount, f.Text, f.TextSource)
	fmt.Println(f.Fonts, f.ImageCount, "images")
	// Output:
	// fallback local
	// 612 x 396 pt, 2 words: "Hello World" from pdfcpu_content_stream
	// [Helvetica] 0 images
}
