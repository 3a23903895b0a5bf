package provider

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// maxSSELine bounds one line of a server-sent event stream.
const maxSSELine = 1 << 20

// sseEvent is one server-sent event.
type sseEvent struct {
	Event string
	Data  []byte
}

// sseReader reads server-sent events (the text/event-stream format both
// providers stream with).
type sseReader struct {
	r *bufio.Reader
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 32<<10)}
}

// next returns the next event, or io.EOF at the end of the stream. An
// event's data lines are joined with newlines; comments and id and retry
// fields are skipped.
func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data [][]byte
	seen := false
	for {
		line, err := s.line()
		if err != nil {
			if err == io.EOF && seen {
				ev.Data = bytes.Join(data, []byte("\n"))
				return ev, nil
			}
			return sseEvent{}, err
		}
		if len(line) == 0 {
			if !seen {
				continue
			}
			ev.Data = bytes.Join(data, []byte("\n"))
			return ev, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			ev.Event = string(value)
			seen = true
		case "data":
			data = append(data, bytes.Clone(value))
			seen = true
		}
	}
}

// line returns one line without its end (LF, CRLF or CR before LF).
func (s *sseReader) line() ([]byte, error) {
	var buf []byte
	for {
		chunk, err := s.r.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > maxSSELine {
			return nil, fmt.Errorf("%w: event line longer than %d bytes", errGarbled, maxSSELine)
		}
		switch err {
		case nil:
			return bytes.TrimRight(buf, "\r\n"), nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return bytes.TrimRight(buf, "\r\n"), nil
		default:
			return nil, err
		}
	}
}
