package tasks

import (
	"fmt"
	"iter"
	"strconv"
	"strings"
)

// MaxPageRanges bounds the ranges of one page selection: a selection is
// parsed and checked for every job of a batch, and a client needing more
// ranges than this wants a different split of its document.
const MaxPageRanges = 1000

// PageSelection is the set of pages a job's Options.Pages selects, as
// ParsePages reads it: "1-3,7,10-" is pages 1, 2, 3, 7 and 10 to the end.
// The zero value selects every page.
type PageSelection struct {
	ranges []pageRange
}

// pageRange is pages lo..hi, both included; hi 0 runs to the last page.
type pageRange struct{ lo, hi int }

// ParsePages parses a page selection: comma-separated ranges, each a page
// number n, a range n-m (n <= m) or an open range n- (n to the last page);
// pages count from 1 and spaces around the numbers are allowed. Ranges may
// overlap and come in any order; a page is selected once. The empty string
// selects every page. Errors are CodeInvalidRequest.
func ParsePages(s string) (PageSelection, error) {
	var sel PageSelection
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) > MaxPageRanges {
		return sel, Errorf(CodeInvalidRequest, "pages: at most %d ranges", MaxPageRanges)
	}
	for _, part := range parts {
		r, err := parseRange(strings.TrimSpace(part))
		if err != nil {
			return PageSelection{}, err
		}
		sel.ranges = append(sel.ranges, r)
	}
	return sel, nil
}

func parseRange(part string) (pageRange, error) {
	bad := func(why string) (pageRange, error) {
		return pageRange{}, Errorf(CodeInvalidRequest, "pages: %q is not a page range (%s); write ranges like 1-3,7,10-", part, why)
	}
	if part == "" {
		return bad("empty")
	}
	loS, hiS, isRange := strings.Cut(part, "-")
	lo, err := pageNumber(strings.TrimSpace(loS))
	if err != nil {
		return bad(err.Error())
	}
	if !isRange {
		return pageRange{lo, lo}, nil
	}
	hiS = strings.TrimSpace(hiS)
	if hiS == "" {
		return pageRange{lo, 0}, nil
	}
	hi, err := pageNumber(hiS)
	if err != nil {
		return bad(err.Error())
	}
	if hi < lo {
		return bad("it ends before it starts")
	}
	return pageRange{lo, hi}, nil
}

// pageNumber parses a page number: decimal digits only, at least 1.
func pageNumber(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("page numbers are whole numbers")
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 1<<30 {
		return 0, fmt.Errorf("page number too large")
	}
	if n < 1 {
		return 0, fmt.Errorf("pages count from 1")
	}
	return n, nil
}

// All reports whether the selection is every page.
func (p PageSelection) All() bool { return len(p.ranges) == 0 }

// Contains reports whether page n is selected.
func (p PageSelection) Contains(n int) bool {
	if p.All() {
		return n >= 1
	}
	for _, r := range p.ranges {
		if n >= r.lo && (r.hi == 0 || n <= r.hi) {
			return true
		}
	}
	return false
}

// Count returns how many of the pages 1..total are selected.
func (p PageSelection) Count(total int) int {
	if p.All() {
		return max(total, 0)
	}
	n := 0
	for range p.Pages(total) {
		n++
	}
	return n
}

// Pages yields the selected pages of 1..total in ascending order, each once.
func (p PageSelection) Pages(total int) iter.Seq[int] {
	return func(yield func(int) bool) {
		for n := 1; n <= total; n++ {
			if !p.Contains(n) {
				n = p.next(n, total)
				if n > total {
					return
				}
			}
			if !yield(n) {
				return
			}
		}
	}
}

// next returns the first selected page after n, or total+1: a selection
// of a few pages of a long document skips the rest without testing them.
func (p PageSelection) next(n, total int) int {
	best := total + 1
	for _, r := range p.ranges {
		if r.lo > n && r.lo < best {
			best = r.lo
		}
	}
	return best
}

// Check returns a CodeInvalidRequest error when a range of the selection
// starts past the last of total pages (10- of a 5-page document, or 3-8 of
// a 5-page one): the client asked for pages the document does not have.
func (p PageSelection) Check(total int) error {
	for _, r := range p.ranges {
		if end := max(r.lo, r.hi); end > total {
			return Errorf(CodeInvalidRequest, "pages: %s is past the end of the document, which has %d pages", r, total)
		}
	}
	return nil
}

// String returns the selection in ParsePages's syntax, "" for every page.
func (p PageSelection) String() string {
	s := make([]string, len(p.ranges))
	for i, r := range p.ranges {
		s[i] = r.String()
	}
	return strings.Join(s, ",")
}

func (r pageRange) String() string {
	switch {
	case r.hi == 0:
		return strconv.Itoa(r.lo) + "-"
	case r.hi == r.lo:
		return strconv.Itoa(r.lo)
	}
	return strconv.Itoa(r.lo) + "-" + strconv.Itoa(r.hi)
}

// SelectPages reads o.Pages against a document of n pages and returns the
// selection with the number of pages it selects, the job's pages_total. A
// selection that does not parse, or that runs past the end, is a
// CodeInvalidRequest error; more selected pages than o.MaxPages (when set)
// a CodeTooManyPages error: max_pages bounds the pages analyzed.
func (o Options) SelectPages(n int) (PageSelection, int, error) {
	sel, err := o.PageSelection()
	if err == nil {
		err = sel.Check(n)
	}
	if err != nil {
		return sel, 0, err
	}
	c := sel.Count(n)
	if o.MaxPages > 0 && c > o.MaxPages {
		return sel, 0, Errorf(CodeTooManyPages, "the job has %d pages to analyze; at most %d are allowed", c, o.MaxPages)
	}
	return sel, c, nil
}

// OpenLimit is the page limit a document of a job with options o is opened
// with: o.MaxPages, or with a page selection none, since max_pages then
// bounds the selected pages (see SelectPages) and not the document's.
func (o Options) OpenLimit() int {
	if o.Pages != "" {
		return 0
	}
	return o.MaxPages
}
