package media

import (
	"errors"

	"github.com/mmq/mmq/internal/pdfsyntax"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// pruneResources returns the page's resource dict with each large category
// cut down to the names its content uses. It returns res unchanged when no
// category is large, when the content cannot be decoded, or when a kept form
// XObject or Type 3 font draws with the page's resources (it has none of its
// own), since the names it uses are then not in the page's content.
func (c *pageCopier) pruneResources(res types.Dict, contents types.Object) types.Dict {
	large := func(cat string) (types.Dict, bool) {
		d, ok := pdfsyntax.Resolve(c.xt, res[cat]).(types.Dict)
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
	if xo, ok := pdfsyntax.Resolve(c.xt, res["XObject"]).(types.Dict); ok {
		for _, v := range xo {
			sd, ok := pdfsyntax.Resolve(c.xt, v).(types.StreamDict)
			if ok && sd.Subtype() != nil && *sd.Subtype() == "Form" && sd.Dict["Resources"] == nil {
				return true
			}
		}
	}
	if fonts, ok := pdfsyntax.Resolve(c.xt, res["Font"]).(types.Dict); ok {
		for _, v := range fonts {
			f, ok := pdfsyntax.Resolve(c.xt, v).(types.Dict)
			if ok && f.Subtype() != nil && *f.Subtype() == "Type3" && f["Resources"] == nil {
				return true
			}
		}
	}
	return false
}

// contentNames returns every name that occurs in the page's content streams
// (see pdfsyntax.ScanNames). ok is false when the content cannot be read
// whole, decoded within pdfsyntax.MaxDecoded: its names are then unknown.
func (c *pageCopier) contentNames(contents types.Object) (names map[string]bool, ok bool) {
	content, corrupt, err := pdfsyntax.Content(c.xt, contents)
	names = map[string]bool{}
	switch {
	case corrupt > 0:
		// A viewer may still draw what inflates of a stream pdfcpu calls
		// corrupt, with the resources it names.
		return nil, false
	case errors.Is(err, pdfsyntax.ErrNoContent):
		return names, true
	case err != nil:
		return nil, false
	}
	pdfsyntax.ScanNames(content, names)
	return names, true
}
