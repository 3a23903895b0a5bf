package tasks

// MaxDecodedBytes is the one bound on what a document may inflate to in
// mmq's memory: the decoded size of any one stream read from a PDF (by
// pdfcpu while reading and splitting), of a page's content as a whole (by
// internal/pdfsyntax, for media's resource pruning and the local analyzer's
// content walk) and the bytes a qpdf repair may add to the file's own size.
// A decompression bomb then costs at most this much per stream instead of
// what its filters claim; no sane page content, object stream or xref
// stream comes near it.
const MaxDecodedBytes = 32 << 20
