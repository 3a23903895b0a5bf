package media

import (
	"github.com/mmq/mmq/tasks"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// maxContentDecode bounds the decoded size of a page's content that
// resource pruning reads (beyond it the resources are copied whole), and of
// every stream pdfcpu decodes while reading a document (see newConfig).
const maxContentDecode = tasks.MaxDecodedBytes

// pruneResources returns the page's resource dict with each large category
// cut down to the names its content uses. It returns res unchanged when no
// category is large, when the content cannot be decoded, or when a kept form
// XObject or Type 3 font draws with the page's resources (it has none of its
// own), since the names it uses are then not in the page's content.
func (c *pageCopier) pruneResources(res types.Dict, contents types.Object) types.Dict {
	large := func(cat string) (types.Dict, bool) {
		d, ok := resolve(c.xt, res[cat]).(types.Dict)
		return d, ok && len(d) > pruneMin
	}
	prune := false
	for _, cat := range prunable {
		if _, ok := large(cat); ok {
			prune = true
			break
		}
	}
	if !prune {
		return res
	}
	used, ok := c.contentNames(contents)
	if !ok {
		return res
	}
	out := make(types.Dict, len(res))
	for k, v := range res {
		out[k] = v
	}
	for _, cat := range prunable {
		d, ok := large(cat)
		if !ok {
			continue
		}
		kept := types.Dict{}
		for name, v := range d {
			if used[name] {
				kept[name] = v
			}
		}
		out[cat] = kept
	}
	if c.drawsWithPageResources(out) {
		return res
	}
	return out
}

// drawsWithPageResources reports whether a form XObject or Type 3 font of
// res lacks a /Resources of its own.
func (c *pageCopier) drawsWithPageResources(res types.Dict) bool {
	if xo, ok := resolve(c.xt, res["XObject"]).(types.Dict); ok {
		for _, v := range xo {
			sd, ok := resolve(c.xt, v).(types.StreamDict)
			if ok && sd.Subtype() != nil && *sd.Subtype() == "Form" && sd.Dict["Resources"] == nil {
				return true
			}
		}
	}
	if fonts, ok := resolve(c.xt, res["Font"]).(types.Dict); ok {
		for _, v := range fonts {
			f, ok := resolve(c.xt, v).(types.Dict)
			if ok && f.Subtype() != nil && *f.Subtype() == "Type3" && f["Resources"] == nil {
				return true
			}
		}
	}
	return false
}

// contentNames returns every name that occurs in the page's content streams,
// in both its written and its #-decoded form. Names inside strings or inline
// images are collected too; keeping a resource too many is harmless.
func (c *pageCopier) contentNames(contents types.Object) (map[string]bool, bool) {
	streams, ok := contentStreams(c.xt, contents)
	if !ok {
		return nil, false
	}
	names := map[string]bool{}
	for _, sd := range streams {
		b, err := decodeCopy(sd)
		if err != nil {
			return nil, false
		}
		scanNames(b, names)
	}
	return names, true
}

// contentStreams returns the streams of a page's /Contents: one stream or
// an array of them.
func contentStreams(xt *model.XRefTable, contents types.Object) ([]types.StreamDict, bool) {
	switch v := resolve(xt, contents).(type) {
	case types.StreamDict:
		return []types.StreamDict{v}, true
	case types.Array:
		streams := make([]types.StreamDict, 0, len(v))
		for _, o := range v {
			sd, ok := resolve(xt, o).(types.StreamDict)
			if !ok {
				return nil, false
			}
			streams = append(streams, sd)
		}
		return streams, true
	case nil:
		return nil, true
	}
	return nil, false
}

// decodeCopy returns the decoded content of sd. sd is a copy of the
// document's stream dict: decoding sets its Content, not the document's.
func decodeCopy(sd types.StreamDict) ([]byte, error) {
	if err := sd.DecodeWithLimit(maxContentDecode); err != nil {
		return nil, err
	}
	return sd.Content, nil
}

// scanNames adds the names of a content stream to names.
func scanNames(b []byte, names map[string]bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '/' {
			continue
		}
		j := i + 1
		for j < len(b) && !isDelimiter(b[j]) {
			j++
		}
		name := string(b[i+1 : j])
		names[name] = true
		if dec, err := types.DecodeName(name); err == nil {
			names[dec] = true
		}
		i = j - 1
	}
}

// isDelimiter reports whether b ends a name: white space or a delimiter
// (PDF 32000-1:2008, 7.2.2).
func isDelimiter(b byte) bool {
	switch b {
	case 0, '\t', '\n', '\f', '\r', ' ', '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}
