package pdfsyntax

import (
	"compress/zlib"
	"errors"
	"fmt"

	"github.com/mmq/mmq/tasks"
	"github.com/pdfcpu/pdfcpu/pkg/filter"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/model"
	"github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"
)

// MaxDecoded is the most one stream, or one page's content as a whole, may
// decode to: tasks.MaxDecodedBytes, the bound pdfcpu's reader is given too.
const MaxDecoded = tasks.MaxDecodedBytes

var (
	// ErrTooLarge is the error of a decoding that would pass MaxDecoded:
	// most likely a decompression bomb.
	ErrTooLarge = errors.New("pdfsyntax: stream decodes to more than the limit")
	// ErrNoContent says a page has no content stream, or only empty ones.
	ErrNoContent = errors.New("pdfsyntax: page has no content")
	// ErrNotStream says a page's /Contents is neither a stream nor an
	// array of streams.
	ErrNotStream = errors.New("pdfsyntax: page content is not a stream or an array of streams")
)

// Decode returns the decoded data of sd, at most MaxDecoded bytes, else
// ErrTooLarge. sd is a copy of the document's stream dict: decoding sets
// its Content, not the document's.
func Decode(sd types.StreamDict) ([]byte, error) {
	return decode(sd, MaxDecoded)
}

// decode is Decode with a limit, which must be positive: pdfcpu reads a
// limit of 0 as its default (512 MiB a filter stage) and a negative one as
// none at all.
func decode(sd types.StreamDict, limit int64) ([]byte, error) {
	err := sd.DecodeWithLimit(limit)
	if errors.Is(err, filter.ErrDecodeLimitExceeded) {
		return nil, ErrTooLarge
	}
	if err != nil {
		return nil, err
	}
	// An unfiltered stream is not decoded, so not bounded by limit.
	if int64(len(sd.Content)) > limit {
		return nil, ErrTooLarge
	}
	return sd.Content, nil
}

// Content returns the decoded content of a page, whose /Contents entry is
// contents, its streams joined. It is pdfcpu's XRefTable.PageContent with
// a bound: that one decodes each filter stage up to 512 MiB, so a page
// whose content is a bomb cost gigabytes of heap before it gave up. Here
// the content as a whole decodes to at most MaxDecoded bytes, else
// ErrTooLarge, and streams are joined with a newline between them. A stream whose Flate data is corrupt is left out, as pdfcpu
// does in relaxed mode, and counted in corrupt; null entries are skipped.
// Content with no data is ErrNoContent; a /Contents of another type, or an
// array holding one, ErrNotStream.
func Content(xt *model.XRefTable, contents types.Object) (data []byte, corrupt int, err error) {
	streams, err := contentStreams(xt, contents)
	if err != nil {
		return nil, 0, err
	}
	for _, sd := range streams {
		left := MaxDecoded - int64(len(data))
		if left <= 0 {
			return nil, corrupt, ErrTooLarge
		}
		b, err := decode(sd, left)
		switch {
		case errors.Is(err, ErrTooLarge):
			return nil, corrupt, err
		case filter.IsCorruptFlateInput(err), errors.Is(err, zlib.ErrChecksum):
			corrupt++
			continue
		case err != nil:
			return nil, corrupt, fmt.Errorf("pdfsyntax: page content: %w", err)
		}
		if len(data) > 0 && len(b) > 0 {
			// Streams divide between tokens; a viewer reads the end of one
			// as white space, or "/F1" and "12 Tf" would glue into "/F112".
			data = append(data, '\n')
		}
		data = append(data, b...)
	}
	if len(data) == 0 {
		return nil, corrupt, ErrNoContent
	}
	return data, corrupt, nil
}

// contentStreams returns the streams of a page's /Contents: one stream or an
// array of them, nulls left out.
func contentStreams(xt *model.XRefTable, contents types.Object) ([]types.StreamDict, error) {
	switch v := Resolve(xt, contents).(type) {
	case nil:
		return nil, ErrNoContent
	case types.StreamDict:
		return []types.StreamDict{v}, nil
	case types.Array:
		streams := make([]types.StreamDict, 0, len(v))
		for _, o := range v {
			switch sd := Resolve(xt, o).(type) {
			case nil:
			case types.StreamDict:
				streams = append(streams, sd)
			default:
				return nil, ErrNotStream
			}
		}
		return streams, nil
	}
	return nil, ErrNotStream
}
