// Package pdfsyntax is the one place mmq reads PDF syntax by hand, beneath
// pdfcpu: media (pruning a page's resources to the names its content uses)
// and analyzer (walking a page's content for its layout facts) both use it,
// and do not know each other.
//
// It holds three things:
//
//   - a [Lexer] of content streams that never fails: bytes it cannot make
//     sense of come out as keywords, and every call consumes input;
//   - [Resolve], which follows indirect references in a table pdfcpu read,
//     without writing to it, so that one table serves concurrent readers;
//   - bounded stream decoding: [Decode] and [Content] decode at most
//     [MaxDecoded] bytes (tasks.MaxDecodedBytes), the one cap on what a
//     stream may inflate to, so that a decompression bomb (a few KB of
//     Flate that claim gigabytes) costs that much and no more.
package pdfsyntax
