package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/mmq/mmq/tasks"
)

// documentPage is one page (or frame) of GET /v1/jobs/{id}/document.
type documentPage struct {
	Page      *int             `json:"page,omitempty"`
	Frame     *int             `json:"frame,omitempty"`
	Timestamp *float64         `json:"timestamp,omitempty"`
	Status    tasks.PageStatus `json:"status"`
	Text      string           `json:"text"`
	Data      json.RawMessage  `json:"data"`
	ErrorCode tasks.Code       `json:"error_code,omitempty"`
}

// handleDocument returns a job as one document: GET
// /v1/jobs/{id}/document?format=json|markdown. It serves what exists, with
// the job's status, so a client may poll; the pages are read from the
// store a page of results at a time and streamed, so a large job is never
// held in memory whole.
func (s *Server) handleDocument(w http.ResponseWriter, r *http.Request) {
	id, err := jobID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	format := r.URL.Query().Get("format")
	if format == "" {
		format = "json"
	}
	if format != "json" && format != "markdown" {
		writeError(w, tasks.Errorf(tasks.CodeInvalidRequest, `format must be "json" or "markdown"`))
		return
	}
	ctx := r.Context()
	job, err := s.getJob(ctx, id)
	if err != nil {
		writeError(w, err)
		return
	}
	// The first page of results is read before the status line, so that a
	// store failure is still an error response.
	rs, more, err := s.deps.Store.Results(ctx, id, -1, maxResultsLimit)
	if err != nil {
		writeError(w, err)
		return
	}
	bw := bufio.NewWriterSize(w, 32<<10)
	defer bw.Flush()
	var out documentWriter = &jsonDocument{w: bw}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if format == "markdown" {
		out = &markdownDocument{w: bw}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	out.begin(job)
	for {
		for _, res := range rs {
			out.page(job.Kind, documentPageOf(job.Kind, res))
		}
		if !more || len(rs) == 0 {
			break
		}
		if rs, more, err = s.deps.Store.Results(ctx, id, rs[len(rs)-1].Index, maxResultsLimit); err != nil {
			// The status is sent: all that can be done is to stop. The
			// truncated body does not parse, so the client sees it.
			s.log.Warn().Err(err).Str("job_id", id).Msg("document: results could not be read")
			return
		}
	}
	out.end()
}

func documentPageOf(kind tasks.Kind, r tasks.PageResult) documentPage {
	var o struct {
		Text string          `json:"text"`
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(r.Output, &o)
	p := documentPage{Status: r.Status, Text: o.Text, ErrorCode: r.ErrorCode}
	if r.Status == tasks.PageDone && len(o.Data) > 0 && string(o.Data) != "null" {
		p.Data = o.Data
	}
	idx := r.Index
	if kind == tasks.KindVideo {
		ts := r.Timestamp
		p.Frame, p.Timestamp = &idx, &ts
	} else {
		p.Page = &idx
	}
	return p
}

type documentWriter interface {
	begin(job *tasks.Job)
	page(kind tasks.Kind, p documentPage)
	end()
}

// jsonDocument writes {"job_id","status","answer","pages":[...]}.
type jsonDocument struct {
	w     io.Writer
	pages int
}

func (d *jsonDocument) begin(job *tasks.Job) {
	id, _ := json.Marshal(job.ID)
	answer := json.RawMessage("null")
	if len(job.Answer) > 0 && json.Valid(job.Answer) {
		// Written into the body as it is: a broken record must not break
		// the whole document.
		answer = job.Answer
	}
	fmt.Fprintf(d.w, `{"job_id":%s,"status":%q,"answer":%s,"pages":[`, id, job.Status, answer)
}

func (d *jsonDocument) page(_ tasks.Kind, p documentPage) {
	if p.Data == nil {
		p.Data = json.RawMessage("null")
	}
	b, _ := json.Marshal(p)
	if d.pages > 0 {
		io.WriteString(d.w, ",")
	}
	d.pages++
	d.w.Write(b)
}

func (d *jsonDocument) end() { io.WriteString(d.w, "]}\n") }

// markdownDocument writes the combined answer (if any) and the pages in
// order, each after an HTML comment marker; data is rendered as lists and
// tables.
type markdownDocument struct{ w io.Writer }

func (d *markdownDocument) begin(job *tasks.Job) {
	if len(job.Answer) > 0 {
		io.WriteString(d.w, "<!-- document -->\n\n")
		io.WriteString(d.w, renderMarkdown(job.Answer))
		io.WriteString(d.w, "\n")
	}
}

func (d *markdownDocument) page(kind tasks.Kind, p documentPage) {
	if kind == tasks.KindVideo {
		fmt.Fprintf(d.w, "<!-- frame %d t=%ss -->\n\n", *p.Frame, strconv.FormatFloat(*p.Timestamp, 'f', -1, 64))
	} else {
		fmt.Fprintf(d.w, "<!-- page %d -->\n\n", *p.Page)
	}
	switch {
	case p.Status == tasks.PageFailed:
		fmt.Fprintf(d.w, "_This %s failed: %s._\n\n", map[bool]string{true: "frame", false: "page"}[kind == tasks.KindVideo], p.ErrorCode)
	case p.Data != nil:
		io.WriteString(d.w, renderMarkdown(p.Data))
		io.WriteString(d.w, "\n")
	default:
		io.WriteString(d.w, strings.TrimRight(p.Text, "\n"))
		io.WriteString(d.w, "\n\n")
	}
}

func (d *markdownDocument) end() {}

// node is a JSON value decoded with its objects' keys in document order,
// which a map would lose.
type node struct {
	obj    []field
	arr    []node
	scalar any  // string, json.Number, bool or nil
	kind   byte // 'o', 'a' or 's'
}

type field struct {
	key string
	val node
}

func decodeNode(dec *json.Decoder) (node, error) {
	tok, err := dec.Token()
	if err != nil {
		return node{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			n := node{kind: 'o'}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return node{}, err
				}
				v, err := decodeNode(dec)
				if err != nil {
					return node{}, err
				}
				n.obj = append(n.obj, field{key: fmt.Sprint(k), val: v})
			}
			_, err := dec.Token()
			return n, err
		}
		n := node{kind: 'a'}
		for dec.More() {
			v, err := decodeNode(dec)
			if err != nil {
				return node{}, err
			}
			n.arr = append(n.arr, v)
		}
		_, err := dec.Token()
		return n, err
	}
	return node{kind: 's', scalar: tok}, nil
}

// renderMarkdown renders a JSON value: an object as "- **key**: value"
// lines (nested objects indented), arrays of objects as tables, arrays of
// scalars as comma-separated values.
func renderMarkdown(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	n, err := decodeNode(dec)
	if err != nil {
		return "```json\n" + string(raw) + "\n```\n"
	}
	var b strings.Builder
	switch {
	case n.kind == 'o':
		renderObject(&b, n, 0)
	case n.kind == 'a' && isTable(n):
		renderTable(&b, n)
	default:
		b.WriteString(cell(n) + "\n")
	}
	return b.String()
}

func renderObject(b *strings.Builder, n node, depth int) {
	indent := strings.Repeat("  ", depth)
	for _, f := range n.obj {
		switch {
		case f.val.kind == 'o':
			fmt.Fprintf(b, "%s- **%s**:\n", indent, inline(f.key))
			renderObject(b, f.val, depth+1)
		case f.val.kind == 'a' && len(f.val.arr) > 0 && isTable(f.val):
			fmt.Fprintf(b, "%s- **%s**:\n\n", indent, inline(f.key))
			renderTable(b, f.val)
			b.WriteString("\n")
		default:
			fmt.Fprintf(b, "%s- **%s**: %s\n", indent, inline(f.key), cell(f.val))
		}
	}
}

// isTable reports whether every item of an array is an object.
func isTable(n node) bool {
	for _, it := range n.arr {
		if it.kind != 'o' {
			return false
		}
	}
	return len(n.arr) > 0
}

func renderTable(b *strings.Builder, n node) {
	var cols []string
	seen := map[string]bool{}
	for _, row := range n.arr {
		for _, f := range row.obj {
			if !seen[f.key] {
				seen[f.key] = true
				cols = append(cols, f.key)
			}
		}
	}
	b.WriteString("|")
	for _, c := range cols {
		b.WriteString(" " + inline(c) + " |")
	}
	b.WriteString("\n|")
	for range cols {
		b.WriteString(" --- |")
	}
	b.WriteString("\n")
	for _, row := range n.arr {
		vals := map[string]node{}
		for _, f := range row.obj {
			vals[f.key] = f.val
		}
		b.WriteString("|")
		for _, c := range cols {
			v, ok := vals[c]
			s := ""
			if ok {
				s = cell(v)
			}
			b.WriteString(" " + s + " |")
		}
		b.WriteString("\n")
	}
}

// cell renders a value on one line: scalars as they are, arrays of
// scalars comma-separated, anything else as compact JSON.
func cell(n node) string {
	switch n.kind {
	case 's':
		if n.scalar == nil {
			return ""
		}
		return inline(fmt.Sprint(n.scalar))
	case 'a':
		parts := make([]string, 0, len(n.arr))
		for _, it := range n.arr {
			if it.kind != 's' {
				return inline(compactNode(n))
			}
			parts = append(parts, cell(it))
		}
		return strings.Join(parts, ", ")
	}
	return inline(compactNode(n))
}

func compactNode(n node) string {
	switch n.kind {
	case 'o':
		parts := make([]string, 0, len(n.obj))
		for _, f := range n.obj {
			k, _ := json.Marshal(f.key)
			parts = append(parts, string(k)+":"+compactNode(f.val))
		}
		return "{" + strings.Join(parts, ",") + "}"
	case 'a':
		parts := make([]string, 0, len(n.arr))
		for _, it := range n.arr {
			parts = append(parts, compactNode(it))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	b, _ := json.Marshal(n.scalar)
	return string(b)
}

// inline makes s safe inside a table cell or a list line: no newlines, |
// escaped.
var inlineReplacer = strings.NewReplacer("|", `\|`, "\r\n", " ", "\n", " ", "\r", " ")

func inline(s string) string { return inlineReplacer.Replace(s) }
