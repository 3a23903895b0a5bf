package analyzer

import (
	"bytes"
	"context"
	"strings"
	"sync"
)

// DefaultChunkPages is LocalConfig.ChunkPages's default.
const DefaultChunkPages = 32

// docText holds the page text of one prepared document: pdftotext runs on
// the whole document a chunk of pages at a time (-f/-l), on demand, when a
// page of the chunk is first analyzed, instead of once per single-page
// unit. The chunk runs in the goroutine of that page, which holds one of
// the fan-out's slots, and the next chunk starts beside it, in a goroutine
// of the document's: while the pages of one chunk wait for its run, the
// next one's text is read on another core. So a document has at most two
// runs at once.
type docText struct {
	l *Local
	// ctx is the job's, canceled by release: a chunk serves many pages, so
	// it does not run under the context of the page that happened to start
	// it.
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup // the runs ahead
	pdf        []byte
	pages      int
	chunkPages int

	mu       sync.Mutex
	chunks   map[int]*chunkText // by chunk number, from 0
	released bool               // no run starts ahead any more
}

// chunkText is the outcome of one chunk's pdftotext run.
type chunkText struct {
	done chan struct{}
	// pages holds the raw text of each page of the chunk, in order; nil
	// when the run failed, and the pages then fall back to a run each, and
	// once every page took its text.
	pages [][]byte
	// taken says which pages took their text, and left counts those that
	// did not yet. A page analyzed again (a retry) falls back to a run of
	// its own rather than running the chunk again.
	taken []bool
	left  int
}

// PrepareDocument makes the page text of a document job come from
// pdftotext runs over ChunkPages pages of the whole document at once,
// instead of one run per single-page unit: starting pdftotext and reading
// the document's structure then happen once per chunk. pdf is the document
// as the job has it (readable without a password), pages its page count.
// Analyze looks a unit's text up by its JobID and Index; a page whose
// chunk run failed (a timeout, a chunk with a decompression bomb, output
// that does not split into the chunk's pages) gets a run of its own, as
// without preparation. The text is the same either way. release forgets
// the document, ending a run ahead of the pages and waiting for it; call
// it once the job's pages are analyzed. ctx bounds the chunk runs.
func (l *Local) PrepareDocument(ctx context.Context, jobID string, pdf []byte, pages int) (release func()) {
	if l.pdfToText == "" || jobID == "" || pages < 1 {
		return func() {}
	}
	d := &docText{l: l, pdf: pdf, pages: pages, chunkPages: l.chunkPages, chunks: map[int]*chunkText{}}
	d.ctx, d.cancel = context.WithCancel(ctx)
	l.docsMu.Lock()
	l.docs[jobID] = d
	l.docsMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.docsMu.Lock()
			if l.docs[jobID] == d {
				delete(l.docs, jobID)
			}
			l.docsMu.Unlock()
			d.mu.Lock()
			d.released = true
			d.mu.Unlock()
			d.cancel()
			d.wg.Wait()
		})
	}
}

// preparedText returns the text of page index of job jobID from its
// document's chunk, and false when the document was not prepared or the
// chunk's run failed. It returns ctx's error when ctx ends first.
func (l *Local) preparedText(ctx context.Context, jobID string, index int) (text string, truncated, ok bool, err error) {
	l.docsMu.Lock()
	d := l.docs[jobID]
	l.docsMu.Unlock()
	if d == nil || index < 1 || index > d.pages {
		return "", false, false, nil
	}
	raw, ok, err := d.page(ctx, index)
	if !ok || err != nil {
		return "", false, false, err
	}
	if len(raw) > maxTextBytes {
		raw, truncated = raw[:maxTextBytes], true
	}
	return cleanLayoutText(strings.ToValidUTF8(string(raw), "\uFFFD")), truncated, true, nil
}

// page returns the raw text of page index, running its chunk if no page
// of the chunk did yet, and starting the next chunk, if none did, beside it.
func (d *docText) page(ctx context.Context, index int) ([]byte, bool, error) {
	n := (index - 1) / d.chunkPages
	c, mine := d.chunk(n)
	d.ahead(n + 1)
	if mine {
		d.fill(c, n)
	}
	select {
	case <-c.done:
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i := (index - 1) % d.chunkPages
	if c.pages == nil || c.taken[i] {
		return nil, false, nil
	}
	raw := c.pages[i]
	c.taken[i] = true
	if c.left--; c.left == 0 {
		c.pages = nil // the chunk's output can go
	}
	return raw, true, nil
}

// chunk returns chunk n, and true when this call created it: its caller
// then runs it.
func (d *docText) chunk(n int) (*chunkText, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.chunkLocked(n)
}

func (d *docText) chunkLocked(n int) (*chunkText, bool) {
	if c, ok := d.chunks[n]; ok {
		return c, false
	}
	c := &chunkText{done: make(chan struct{})}
	d.chunks[n] = c
	return c, true
}

// ahead starts running chunk n in a goroutine of the document's, unless it
// is past the last page, started already, or the document was released.
func (d *docText) ahead(n int) {
	if n*d.chunkPages >= d.pages {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return
	}
	if c, mine := d.chunkLocked(n); mine {
		d.wg.Go(func() { d.fill(c, n) })
	}
}

// fill runs chunk n and records its pages.
func (d *docText) fill(c *chunkText, n int) {
	first := n*d.chunkPages + 1
	last := min(first+d.chunkPages-1, d.pages)
	pages := d.run(first, last)
	d.mu.Lock()
	c.pages, c.taken, c.left = pages, make([]bool, len(pages)), len(pages)
	d.mu.Unlock()
	close(c.done)
}

// run extracts pages first to last and splits the output at its form
// feeds, one a page; nil when the run fails or its output does not split
// into the pages asked for.
func (d *docText) run(first, last int) [][]byte {
	count := last - first + 1
	// Room for every page's text at the cap of one page, and a byte more
	// to tell a cut output: a cut one falls back to a run a page.
	out, truncated, err := runPDFToText(d.ctx, d.l.pdfToText, d.l.timeout, d.pdf, first, last, count*maxTextBytes+1)
	if err != nil || truncated {
		return nil
	}
	pages := bytes.Split(out, []byte{'\f'})
	// Each page ends with a form feed: the last piece is empty.
	if len(pages) != count+1 || len(pages[count]) != 0 {
		return nil
	}
	return pages[:count]
}
