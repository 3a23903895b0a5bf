package pdfsyntax

import (
	"context"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// maxHops bounds the chain of references Resolve follows: a reference to a
// reference is legal but pointless, and a cycle must end.
const maxHops = 8

// Lookup returns object nr of xt, or nil when it is free or undefined, which
// a reader must treat as null (PDF 32000-1:2008, 7.3.10). An object pdfcpu
// left undecoded in an object stream is decoded, but not stored: Lookup
// only reads xt, so that one table serves concurrent readers. An object
// that does not decode is null.
func Lookup(xt *model.XRefTable, nr int) types.Object {
	e, ok := xt.Table[nr]
	if !ok || e == nil || e.Free {
		return nil
	}
	if lazy, ok := e.Object.(types.LazyObjectStreamObject); ok {
		o, err := lazy.DecodedObject(context.Background())
		if err != nil {
			return nil
		}
		return o
	}
	return e.Object
}

// Resolve follows indirect references from o to the object they name; a
// chain longer than a few hops is null.
func Resolve(xt *model.XRefTable, o types.Object) types.Object {
	for range maxHops {
		ref, ok := o.(types.IndirectRef)
		if !ok {
			return o
		}
		o = Lookup(xt, ref.ObjectNumber.Value())
	}
	return nil
}

// ObjectNumber returns the object number o refers to, 0 for a direct object.
func ObjectNumber(o types.Object) int {
	if ref, ok := o.(types.IndirectRef); ok {
		return ref.ObjectNumber.Value()
	}
	return 0
}
