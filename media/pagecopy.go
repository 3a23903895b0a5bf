package media

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// Object numbers of the fixed part of every single-page PDF; the objects
// copied from the document follow from firstCopied on.
const (
	catalogNr   = 1
	pagesNr     = 2
	pageNr      = 3
	firstCopied = 4
)

// maxNesting bounds how deep direct dicts and arrays may nest inside one
// object. pdfcpu's parser stops far earlier on real input; the bound keeps
// a crafted document from exhausting the stack of the copier.
const maxNesting = 256

// pruneMin is the size above which a resource category (/Font, /XObject...)
// is cut down to the names the page's content uses. Some producers give all
// pages one shared resource dict that lists every image and font of the
// document; copying it whole would put all of them in every single page and
// make splitting quadratic in output size. Small dicts are copied whole,
// which costs nothing and avoids decoding the content.
const pruneMin = 8

// prunable are the resource categories referred to by name from content.
var prunable = []string{"XObject", "Font", "ExtGState", "Pattern", "Shading", "ColorSpace", "Properties"}

// Page dict entries left out of a single page: they are not needed to
// render or analyze it, and each can drag in much of the document.
var droppedPageKeys = map[string]bool{
	"B":         true, // article beads: a chain through other pages
	"Thumb":     true, // thumbnail image
	"PieceInfo": true, // private data of the producing application, sometimes a whole copy of the page
	"AA":        true, // additional actions (scripts), pointless in a split page
}

var errTooDeep = errors.New("media: objects nested too deep")

func ref(nr int) types.IndirectRef { return types.IndirectRef{ObjectNumber: types.Integer(nr)} }

// pageCopier builds one single-page PDF from the document. It only reads
// the document's objects and allocates everything it writes.
type pageCopier struct {
	xt    *model.XRefTable
	tree  *pageTree
	page  int         // object number of the page in the document
	nums  map[int]int // document object number -> output object number
	queue []int       // document object numbers, in output order from firstCopied
	objs  []types.Object
	// annots are the document object numbers of the page's annotations,
	// which get their back-references rewritten.
	annots map[int]bool
	// fields are the form fields that the page's widgets belong to, up to
	// the top of the field tree; fieldRoots are the top ones.
	fields     map[int]bool
	fieldRoots []int
	err        error
}

// buildPage returns page e of the document as a complete PDF file.
func buildPage(xt *model.XRefTable, tree *pageTree, e pageEntry, version string) ([]byte, error) {
	c := &pageCopier{
		xt: xt, tree: tree, page: e.objNr,
		nums: map[int]int{}, annots: map[int]bool{}, fields: map[int]bool{},
	}
	src, ok := pdfsyntax.Lookup(xt, e.objNr).(types.Dict)
	if !ok {
		return nil, fmt.Errorf("media: page object %d is not a dict", e.objNr)
	}
	page := c.pageDict(src, e.attrs)
	form := c.acroForm()
	for i := 0; i < len(c.queue) && c.err == nil; i++ {
		c.objs = append(c.objs, c.copyObject(c.queue[i]))
	}
	if c.err != nil {
		return nil, c.err
	}
	return c.write(page, form, version), nil
}

// pageDict copies the page dict, giving it the inherited attributes it
// lacks and a new parent.
func (c *pageCopier) pageDict(src types.Dict, attrs inherited) types.Dict {
	if annots, ok := pdfsyntax.Resolve(c.xt, src["Annots"]).(types.Array); ok {
		for _, a := range annots {
			if r, ok := a.(types.IndirectRef); ok {
				c.annots[r.ObjectNumber.Value()] = true
				c.markFields(r.ObjectNumber.Value())
			}
		}
	}
	// Inherited attributes go through the same copy as the page's own.
	own := make(types.Dict, len(src)+4)
	for k, v := range src {
		own[k] = v
	}
	for k, v := range map[string]types.Object{
		"Resources": attrs.resources, "MediaBox": attrs.mediaBox,
		"CropBox": attrs.cropBox, "Rotate": attrs.rotate,
	} {
		if _, ok := own[k]; !ok && v != nil {
			own[k] = v
		}
	}
	if res, ok := pdfsyntax.Resolve(c.xt, own["Resources"]).(types.Dict); ok {
		own["Resources"] = c.pruneResources(res, own["Contents"])
	}

	d := make(types.Dict, len(own))
	for _, k := range slices.Sorted(maps.Keys(own)) {
		v := own[k]
		switch {
		case droppedPageKeys[k], k == "Parent":
		case k == "Annots":
			d[k] = c.copyAnnots(v)
		default:
			d[k] = c.copy(v, 1)
		}
	}
	d["Type"] = types.Name("Page")
	d["Parent"] = ref(pagesNr)
	if d["MediaBox"] == nil {
		// Required; readers default to US Letter when it is missing.
		d["MediaBox"] = types.Array{types.Integer(0), types.Integer(0), types.Integer(612), types.Integer(792)}
	}
	if d["Resources"] == nil {
		d["Resources"] = types.Dict{} // required, even when empty
	}
	return d
}

// copy deep-copies a direct object; indirect references are renumbered and
// queued for copying.
func (c *pageCopier) copy(o types.Object, depth int) types.Object {
	if depth > maxNesting {
		c.err = errTooDeep
		return nil
	}
	switch v := o.(type) {
	case types.IndirectRef:
		return c.ref(v)
	case types.Dict:
		d := make(types.Dict, len(v))
		// In key order, so that objects are numbered, and a page written,
		// the same way every time.
		for _, k := range slices.Sorted(maps.Keys(v)) {
			d[k] = c.copy(v[k], depth+1)
		}
		return d
	case types.Array:
		a := make(types.Array, len(v))
		for i, e := range v {
			a[i] = c.copy(e, depth+1)
		}
		return a
	case types.StreamDict, types.ObjectStreamDict, types.XRefStreamDict, types.LazyObjectStreamObject:
		return nil // never direct in a valid file; settleObjects removed lazy objects
	}
	return o // Name, Integer, Float, Boolean, StringLiteral, HexLiteral, nil: immutable values
}

// ref maps a reference into the document to one into the output.
func (c *pageCopier) ref(r types.IndirectRef) types.Object {
	nr := r.ObjectNumber.Value()
	switch {
	case nr == c.page:
		return ref(pageNr)
	case c.tree.nodes[nr]:
		return nil // another page or a page tree node: not part of this file
	}
	if out, ok := c.nums[nr]; ok {
		return ref(out)
	}
	if pdfsyntax.Lookup(c.xt, nr) == nil {
		return nil // a reference to nothing is null (7.3.10)
	}
	out := firstCopied + len(c.queue)
	c.nums[nr] = out
	c.queue = append(c.queue, nr)
	return ref(out)
}

// copyObject copies indirect object nr of the document.
func (c *pageCopier) copyObject(nr int) types.Object {
	switch v := pdfsyntax.Lookup(c.xt, nr).(type) {
	case types.StreamDict:
		d, _ := c.copy(v.Dict, 0).(types.Dict)
		dropCryptFilter(d)
		// The copy is unencrypted and written with its bytes as they are:
		// its length is theirs, not that of the (maybe indirect) original.
		d["Length"] = types.Integer(len(v.Raw))
		return types.StreamDict{Dict: d, Raw: v.Raw}
	case types.Dict:
		switch {
		case c.annots[nr]:
			return c.copyAnnot(v)
		case c.fields[nr]:
			return c.copyField(v)
		}
		return c.copy(v, 0)
	case types.ObjectStreamDict, types.XRefStreamDict:
		return nil
	default:
		return c.copy(v, 0)
	}
}

// copyAnnots copies the page's /Annots, an array or a reference to one.
func (c *pageCopier) copyAnnots(o types.Object) types.Object {
	arr, ok := o.(types.Array)
	if !ok {
		return c.copy(o, 1)
	}
	out := make(types.Array, 0, len(arr))
	for _, a := range arr {
		if d, ok := a.(types.Dict); ok {
			out = append(out, c.copyAnnot(d))
			continue
		}
		out = append(out, c.copy(a, 2))
	}
	return out
}

// copyAnnot copies an annotation of the page. Its /P points at the new page.
// Destinations into other pages are removed rather than left pointing at
// null.
func (c *pageCopier) copyAnnot(src types.Dict) types.Dict {
	d := make(types.Dict, len(src))
	for _, k := range slices.Sorted(maps.Keys(src)) {
		if k == "P" {
			d[k] = ref(pageNr)
			continue
		}
		d[k] = c.copy(src[k], 1)
	}
	if deadDest(d["Dest"]) {
		delete(d, "Dest")
	}
	if a, ok := d["A"].(types.Dict); ok && deadDest(a["D"]) {
		delete(d, "A")
	}
	return d
}

// markFields records the form fields above widget annotation nr. A field
// holds the value and default appearance its widgets show: a viewer asked
// to regenerate appearances (/NeedAppearances) draws nothing without it.
func (c *pageCopier) markFields(nr int) {
	w, ok := pdfsyntax.Lookup(c.xt, nr).(types.Dict)
	if !ok || w.Subtype() == nil || *w.Subtype() != "Widget" {
		return
	}
	top, d := nr, w
	for range maxTreeDepth {
		p, ok := d["Parent"].(types.IndirectRef)
		if !ok {
			break
		}
		pnr := p.ObjectNumber.Value()
		pd, ok := pdfsyntax.Lookup(c.xt, pnr).(types.Dict)
		if !ok || c.fields[pnr] || pnr == nr {
			return // already recorded with its ancestors, or a loop
		}
		c.fields[pnr] = true
		top, d = pnr, pd
	}
	if top != nr || w["T"] != nil { // a widget with /T and no parent is a field itself
		c.fieldRoots = append(c.fieldRoots, top)
	}
}

// copyField copies a form field above the page's widgets. Its /Kids keep
// only the widgets of this page and the fields leading to them: the others
// belong to other pages, and some forms put one field on every page.
func (c *pageCopier) copyField(src types.Dict) types.Dict {
	d := make(types.Dict, len(src))
	for _, k := range slices.Sorted(maps.Keys(src)) {
		if k != "Kids" {
			d[k] = c.copy(src[k], 1)
			continue
		}
		kids, _ := pdfsyntax.Resolve(c.xt, src[k]).(types.Array)
		var kept types.Array
		for _, kid := range kids {
			if r, ok := kid.(types.IndirectRef); ok && (c.annots[r.ObjectNumber.Value()] || c.fields[r.ObjectNumber.Value()]) {
				kept = append(kept, c.ref(r))
			}
		}
		d[k] = kept
	}
	return d
}

// acroForm returns the interactive form dict of the single page: the
// document's form settings and the fields of the page's widgets, or nil
// when the page has no form field.
func (c *pageCopier) acroForm() types.Dict {
	if len(c.fieldRoots) == 0 {
		return nil
	}
	form := types.Dict{}
	if src, ok := pdfsyntax.Resolve(c.xt, c.xt.RootDict["AcroForm"]).(types.Dict); ok {
		// Not /XFA (an XML form of the whole document), /CO (calculation
		// order: fields of all pages) nor /SigFlags (signatures do not
		// survive splitting).
		for _, k := range []string{"NeedAppearances", "DA", "DR", "Q"} {
			if v, ok := src[k]; ok {
				form[k] = c.copy(v, 1)
			}
		}
	}
	fields := make(types.Array, 0, len(c.fieldRoots))
	for _, nr := range c.fieldRoots {
		fields = append(fields, c.ref(ref(nr)))
	}
	form["Fields"] = fields
	return form
}

// deadDest reports whether o is an explicit destination whose page was
// not copied.
func deadDest(o types.Object) bool {
	a, ok := o.(types.Array)
	return ok && len(a) > 0 && a[0] == nil
}

// dropCryptFilter removes a /Crypt filter from a copied stream dict: pdfcpu
// has decrypted the data, and the output has no encryption to refer to.
func dropCryptFilter(d types.Dict) {
	switch f := d["Filter"].(type) {
	case types.Name:
		if f == "Crypt" {
			delete(d, "Filter")
			delete(d, "DecodeParms")
		}
	case types.Array:
		parms, _ := d["DecodeParms"].(types.Array)
		var fs, ps types.Array
		for i, name := range f {
			if name == types.Name("Crypt") {
				continue
			}
			fs = append(fs, name)
			if i < len(parms) {
				ps = append(ps, parms[i])
			}
		}
		if len(fs) == len(f) {
			return
		}
		d["Filter"] = fs
		if parms != nil {
			d["DecodeParms"] = ps
		}
	}
}

// write serializes the single-page PDF: a catalog, a one-page tree, the
// page, the copied objects, a classic xref table and the trailer. Objects
// are written with pdfcpu's own PDFString, as pdfcpu's writer does; they are
// rendered first so that the file is built in one allocation of its size.
func (c *pageCopier) write(page, form types.Dict, version string) []byte {
	catalog := types.Dict{"Type": types.Name("Catalog"), "Pages": ref(pagesNr)}
	if form != nil {
		catalog["AcroForm"] = form
	}
	objs := append([]types.Object{
		catalog,
		types.Dict{"Type": types.Name("Pages"), "Kids": types.Array{ref(pageNr)}, "Count": types.Integer(1)},
		page,
	}, c.objs...)

	const perObject = len("0000000 0 obj\n\nstream\n\nendstream\nendobj\n") + 20 // + its xref entry
	texts := make([]string, len(objs))
	size := 256 + perObject*len(objs)
	for i, o := range objs {
		switch v := o.(type) {
		case nil:
			texts[i] = "null"
		case types.StreamDict:
			texts[i] = v.Dict.PDFString()
			size += len(v.Raw)
		default:
			texts[i] = v.PDFString()
		}
		size += len(texts[i])
	}

	var b bytes.Buffer
	b.Grow(size)
	b.WriteString("%PDF-" + version + "\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		b.WriteString(strconv.Itoa(catalogNr + i))
		b.WriteString(" 0 obj\n")
		b.WriteString(texts[i])
		if sd, ok := o.(types.StreamDict); ok {
			b.WriteString("\nstream\n")
			b.Write(sd.Raw)
			b.WriteString("\nendstream")
		}
		b.WriteString("\nendobj\n")
	}

	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d/Root %d 0 R>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, catalogNr, xref)
	return b.Bytes()
}
