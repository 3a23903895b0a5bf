package media

import (
	"errors"
	"fmt"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// maxTreeDepth bounds the page tree walk. pdfcpu's own limit is 100
// (model.DefaultResourceLimits); real trees are a handful of levels deep.
const maxTreeDepth = 100

// inherited holds the page attributes a page takes from its nearest
// ancestor that has them (PDF 32000-1:2008, 7.7.3.4). Values are the
// document's own objects, possibly indirect references; nil when no
// ancestor has the attribute.
type inherited struct {
	resources, mediaBox, cropBox, rotate types.Object
}

// with returns a with the attributes that node d sets itself.
func (a inherited) with(d types.Dict) inherited {
	if o, ok := d["Resources"]; ok {
		a.resources = o
	}
	if o, ok := d["MediaBox"]; ok {
		a.mediaBox = o
	}
	if o, ok := d["CropBox"]; ok {
		a.cropBox = o
	}
	if o, ok := d["Rotate"]; ok {
		a.rotate = o
	}
	return a
}

// pageEntry is one page of the index.
type pageEntry struct {
	objNr int
	attrs inherited // from the page's ancestors, not the page itself
}

// pageTree is the index OpenPDF builds in one walk of the page tree, so that
// a page is found in O(1) instead of walking the tree per page as pdfcpu's
// PageDict does (quadratic over a document with a flat /Kids array).
type pageTree struct {
	pages []pageEntry
	// nodes holds the object numbers of every page and every /Pages node.
	// A reference from a copied object to one of them (a link annotation's
	// destination, an article bead) is written as null, or copying one page
	// would pull in the whole document.
	nodes map[int]bool
}

var errNoPageTree = errors.New("media: catalog has no /Pages tree")

// indexPages walks the page tree of xt in document order.
func indexPages(xt *model.XRefTable) (*pageTree, error) {
	root, err := xt.Pages()
	if err != nil {
		return nil, fmt.Errorf("media: page tree: %w", err)
	}
	if root == nil {
		return nil, errNoPageTree
	}
	t := &pageTree{nodes: map[int]bool{}}
	if err := t.walk(xt, *root, inherited{}, 0); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *pageTree) walk(xt *model.XRefTable, ref types.IndirectRef, attrs inherited, depth int) error {
	if depth > maxTreeDepth {
		return fmt.Errorf("media: page tree deeper than %d levels", maxTreeDepth)
	}
	nr := ref.ObjectNumber.Value()
	d, ok := pdfsyntax.Lookup(xt, nr).(types.Dict)
	if !ok {
		return nil // a kid that is no dict is skipped, as viewers do
	}
	kids, isNode := d["Kids"]
	if typ := d.Type(); typ != nil {
		isNode = *typ == "Pages"
	}
	if !isNode {
		// A page listed twice is shown twice by viewers (and qpdf copies
		// it): it is a page of the document each time.
		t.nodes[nr] = true
		t.pages = append(t.pages, pageEntry{objNr: nr, attrs: attrs})
		return nil
	}
	if t.nodes[nr] {
		return nil // a loop: pdfcpu's relaxed validation lets some through
	}
	t.nodes[nr] = true
	attrs = attrs.with(d)
	arr, _ := pdfsyntax.Resolve(xt, kids).(types.Array)
	for _, kid := range arr {
		kref, ok := kid.(types.IndirectRef)
		if !ok {
			continue
		}
		if err := t.walk(xt, kref, attrs, depth+1); err != nil {
			return err
		}
	}
	return nil
}
