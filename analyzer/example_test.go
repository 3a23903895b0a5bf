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

// The local analyzer reports a page's layout facts, read with pdfcpu, and
// its text, read with pdftotext.
func ExampleLocal_Analyze() {
	l, err := analyzer.NewLocal(analyzer.LocalConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := l.Available(); err != nil {
		log.Fatal(err) // pdftotext_unavailable: install poppler-utils
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
	fmt.Println(a.Analyzer)
	fmt.Printf("%v x %v pt, %d words: %q from %s\n", f.WidthPt, f.HeightPt, f.WordCount, f.Text, f.TextSource)
	fmt.Println(f.Fonts, f.ImageCount, "images")
	// Output:
	// local
	// 612 x 396 pt, 1 words: "HelloWorld" from pdftotext
	// [Helvetica] 0 images
}
