package media_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mmq/mmq/media"
	"github.com/mmq/mmq/tasks"
)

func ExampleOpenPDF() {
	ctx := context.Background()
	data, err := os.ReadFile("testdata/qpdf-merge-51-pages.pdf")
	if err != nil {
		panic(err)
	}
	doc, err := media.OpenPDF(ctx, data, media.PDFOptions{MaxPages: 1000, Repair: true})
	if err != nil {
		fmt.Println(tasks.ErrorCode(err), tasks.ErrorMessage(err))
		return
	}
	for n := 1; n <= doc.PageCount(); n++ {
		page, err := doc.Page(ctx, n) // a complete PDF of one page
		if err != nil {
			fmt.Println(tasks.ErrorCode(err), tasks.ErrorMessage(err))
			return
		}
		_ = page // hand it to the analyzer
	}
	fmt.Println(doc.PageCount(), "pages")
	// Output: 51 pages
}

func ExampleOpenPDF_encrypted() {
	data, err := os.ReadFile("testdata/qpdf-enc-R6-aes256-userpw-view.pdf")
	if err != nil {
		panic(err)
	}
	_, err = media.OpenPDF(context.Background(), data, media.PDFOptions{})
	fmt.Println(tasks.ErrorCode(err), "-", tasks.ErrorMessage(err))

	doc, err := media.OpenPDF(context.Background(), data, media.PDFOptions{Password: "view"})
	fmt.Println(doc.PageCount(), "pages,", err)
	// Output:
	// encrypted_pdf - PDF is encrypted; submit it with its password
	// 30 pages, <nil>
}

func ExampleSniffKind() {
	for _, data := range [][]byte{
		[]byte("%PDF-1.7\n"),
		[]byte("\x00\x00\x00\x20ftypisom"),
		[]byte("\x89PNG\r\n\x1a\n"),
		[]byte("<html>"),
	} {
		kind, err := media.SniffKind(data)
		fmt.Printf("%q %q\n", kind, tasks.ErrorCode(err))
	}
	// Output:
	// "document" ""
	// "video" ""
	// "document" ""
	// "" "unsupported_type"
}
