//go:build ignore

// generate.go writes the PDFs in this directory from the shared corpus (its
// MANIFEST.tsv names each file's origin and license): single pages cut with
// pdfcpu, two of them changed by pdfcpu (rotated, stamped), and two broken
// files copied as they are. It ran once; the files are committed. To
// regenerate, from analyzer/ with the corpus checked out next to the project:
//
//	go generate   # go run testdata/generate.go -corpus ../../shared/corpus
package main

import (
	"bytes"
	"flag"
	"image"
	"image/color"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/pdfcpu/pdfcpu/pkg/api"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pages maps each output file to the corpus PDF whose first page it holds.
var pages = map[string]string{
	"letter-text.pdf":    "pdfcpu-5116.DCT_Filter.pdf",    // US letter, Type1 Helvetica family
	"a4-code.pdf":        "pdfcpu-read.go.pdf",            // A4, CID Times-Roman and Type3 fonts
	"a4-text.pdf":        "pdfcpu-itu-t81.pdf",            // A4, Helvetica with a custom encoding
	"letter-image.pdf":   "pdfcpu-CenterOfWhy.pdf",        // text and 1 JPEG image
	"a4-image-smask.pdf": "pdfcpu-WaldenFull.pdf",         // 1 image with a soft mask
	"scan-rotate270.pdf": "pdfcpu-HL1396.pdf",             // /Rotate 270, 1 CCITT image, no text
	"hello.pdf":          "pdfcpu-pdf20-SimplePDF2.0.pdf", // "HelloWorld" in Helvetica
}

// copies are corpus files copied as they are, to be fed to the analyzer whole.
var copies = map[string]string{
	"pdfcpu-panics.pdf":    "qpdf-xref-compressed-in-compressed.pdf", // makes pdfcpu v0.15.0 panic
	"encrypted-userpw.pdf": "qpdf-enc-short-O-U.pdf",                 // needs a user password
}

func main() {
	corpus := flag.String("corpus", "../../shared/corpus", "the shared corpus directory")
	flag.StringVar(&outDir, "out", "testdata", "the directory to write to")
	flag.Parse()
	api.DisableConfigDir()

	for out, src := range pages {
		data, err := os.ReadFile(filepath.Join(*corpus, "pdf", src))
		if err != nil {
			log.Fatal(err)
		}
		var page bytes.Buffer
		if err := api.Trim(bytes.NewReader(data), &page, []string{"1"}, nil); err != nil {
			log.Fatalf("%s: %v", src, err)
		}
		write(out, page.Bytes())
	}

	for out, src := range copies {
		data, err := os.ReadFile(filepath.Join(*corpus, "pdf", src))
		if err != nil {
			log.Fatal(err)
		}
		write(out, data)
	}

	// letter-text rotated by 90 degrees clockwise.
	var rotated bytes.Buffer
	if err := api.Rotate(bytes.NewReader(read("letter-text.pdf")), &rotated, 90, nil, nil); err != nil {
		log.Fatal(err)
	}
	write("letter-text-rotate90.pdf", rotated.Bytes())

	// hello with an image watermark: pdfcpu paints it through a form XObject.
	var stamped bytes.Buffer
	wm, err := api.ImageWatermarkForReader(bytes.NewReader(tinyPNG()), "scale:0.2 abs, rot:0", true, false, types.POINTS)
	if err != nil {
		log.Fatal(err)
	}
	if err := api.AddWatermarks(bytes.NewReader(read("hello.pdf")), &stamped, nil, wm, nil); err != nil {
		log.Fatal(err)
	}
	write("hello-image-in-form.pdf", stamped.Bytes())
}

// outDir is where read and write find the files.
var outDir string

// tinyPNG is an 8x8 checkerboard.
func tinyPNG() []byte {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for y := range 8 {
		for x := range 8 {
			if (x+y)%2 == 0 {
				img.SetGray(x, y, color.Gray{Y: 255})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

func read(name string) []byte {
	data, err := os.ReadFile(filepath.Join(outDir, name))
	if err != nil {
		log.Fatal(err)
	}
	return data
}

func write(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(outDir, name), data, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("%s: %d bytes", name, len(data))
}
