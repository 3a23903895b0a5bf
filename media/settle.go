package media

import (
	"bytes"
	"context"
	"strings"

	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// settleObjects prepares the table pdfcpu read from data for a long life of
// reads, in one pass over its objects:
//
//   - Objects left undecoded in object streams are parsed, and the object and
//     xref streams dropped: their content is then dead weight. Objects that
//     do not parse become null, as a viewer would treat them.
//   - Names and strings are copied out of the text pdfcpu parsed them from:
//     as substrings they kept every object's whole read buffer alive (a
//     third of the file size on image-heavy documents).
//   - Stream bytes that are the file's own bytes (not decrypted, not
//     repaired by pdfcpu) are made slices of data instead of pdfcpu's copy,
//     which halves what a document holds.
//
// Afterwards the table is only read, which makes PDF.Page safe for
// concurrent use.
func settleObjects(ctx context.Context, xt *model.XRefTable, data []byte) error {
	for _, e := range xt.Table {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e == nil {
			continue
		}
		switch o := e.Object.(type) {
		case types.LazyObjectStreamObject:
			v, err := o.DecodedObject(ctx)
			if err != nil {
				v = nil
			}
			e.Object = compact(v, 0)
		case types.ObjectStreamDict, types.XRefStreamDict:
			e.Object = nil
		case types.StreamDict:
			o.Raw = inData(data, o.StreamOffset, o.Raw)
			o.Content = nil // decoded by validation; Page decodes its own copy when it must
			e.Object = compact(o, 0)
		default:
			e.Object = compact(o, 0)
		}
	}
	return nil
}

// inData returns the slice of data at off that equals raw, or raw.
func inData(data []byte, off int64, raw []byte) []byte {
	end := off + int64(len(raw))
	if off < 0 || end > int64(len(data)) || !bytes.Equal(data[off:end], raw) {
		return raw
	}
	return data[off:end:end]
}

// compact returns o with its names and strings copied into memory of their
// own. Nesting deeper than maxNesting is cut (pdfcpu's parser stops far
// earlier).
func compact(o types.Object, depth int) types.Object {
	if depth > maxNesting {
		return nil
	}
	switch v := o.(type) {
	case types.Dict:
		d := make(types.Dict, len(v))
		for k, e := range v {
			d[strings.Clone(k)] = compact(e, depth+1)
		}
		return d
	case types.Array:
		a := make(types.Array, len(v))
		for i, e := range v {
			a[i] = compact(e, depth+1)
		}
		return a
	case types.StreamDict:
		v.Dict, _ = compact(v.Dict, depth+1).(types.Dict)
		if v.FilterPipeline == nil {
			return v // nil, not empty: pdfcpu tells "no filter" by nil
		}
		fp := make([]types.PDFFilter, len(v.FilterPipeline))
		for i, f := range v.FilterPipeline {
			fp[i].Name = strings.Clone(f.Name)
			fp[i].DecodeParms, _ = compact(f.DecodeParms, depth+1).(types.Dict)
		}
		v.FilterPipeline = fp
		return v
	case types.Name:
		return types.Name(strings.Clone(string(v)))
	case types.StringLiteral:
		return types.StringLiteral(strings.Clone(string(v)))
	case types.HexLiteral:
		return types.HexLiteral(strings.Clone(string(v)))
	}
	return o
}
