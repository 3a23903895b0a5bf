// Package media turns uploaded files into the units the analyzers work on:
// a PDF or an image into single-page PDFs, a video into frames. It knows the
// technologies (pdfcpu, qpdf, ffmpeg) and nothing of the queue, the store or
// the analyzers; the worker uses it through interfaces of its own.
//
// # Splitting a PDF
//
// [OpenPDF] has pdfcpu read and validate a document once, then indexes its
// pages in one walk of the page tree. [PDF.Page] builds one single-page PDF
// from that in-memory document: it copies the page dict with the attributes
// the page inherits (/Resources, /MediaBox, /CropBox, /Rotate), then only the
// objects reachable from it, renumbered through a per-page memo, and writes
// them with a small writer of its own (pdfcpu's object syntax, a classic
// xref table). References to other pages become null, so a page never drags
// in the rest of the document; annotations point to the new page, and the
// form fields of the page's widgets come along with an /AcroForm. Resource
// dicts shared by many pages are cut down to the names the page's content
// uses. Pages come out unencrypted.
//
// Splitting is linear in the document: pdfcpu's own ExtractPage walks the
// page tree from its root for each page (quadratic on the flat page trees
// many producers write) and compresses object and xref streams for each
// one-page file.
//
// # Images
//
// [OpenDocument] opens a PNG, JPEG, WebP or TIFF ([ImageFormat] tells them
// by their magic bytes) as an [Image], a document of one page, or of one
// page per image of a TIFF, so that the rest of the pipeline sees pages as
// it does a PDF's. Each page is a one-page PDF drawing the picture one
// pixel to a point, turned upright by its orientation tag (the EXIF block
// of a JPEG, a PNG's eXIf chunk, a WebP's EXIF chunk, a TIFF page's own tag). A JPEG already upright is embedded as it
// is (DCTDecode); every other picture is decoded and re-encoded losslessly
// (FlateDecode, 8 bits a channel, transparency flattened onto white).
// Declared sizes are checked against [ImageOptions.MaxPixels] before
// anything is decoded (image_too_large). x/image/tiff decodes only a TIFF's
// first image: the IFD chain is walked here (bounded, loops refused) and
// each page decoded through a reader that patches the header's
// first-IFD offset, without copying the file. A single image is decoded
// when it is opened, so that a damaged one is refused at submit
// (invalid_image); a TIFF's pages when they are asked for.
//
// # Memory
//
// pdfcpu holds a copy of every stream and keeps its parse buffers alive
// through the names it parsed from them. OpenPDF replaces both once the
// file is read: streams become slices of the input and names get memory of
// their own. An open document then holds about a third of the file size
// besides the input, which it keeps; the peak during OpenPDF is pdfcpu's.
//
// # Damaged files
//
// Every call into pdfcpu runs under recover: pdfcpu panics on some damaged
// files, and a panic becomes a [tasks.Error] with [tasks.CodeInvalidPDF]
// instead of crashing the worker. With [PDFOptions.Repair], a file that
// pdfcpu rejects, or whose content it cannot decode, is rewritten by qpdf
// and read again.
//
// # Video frames
//
// [Videos.Open] probes a video with ffprobe (an animated GIF is read in Go
// with image/gif instead, ffmpeg not needed), refuses what the limits
// exclude (the decode budget, VideoConfig.MaxDecodePixels, among them), and
// plans the frames from the job's sampling: fps:<n>,
// scene:<threshold> or keyframes, within max_frames and start/end.
// [Video.Frames] then streams them from one ffmpeg process: its select or
// fps filter picks the frames, showinfo logs each one's timestamp and size
// on stderr, and image2pipe writes them as concatenated JPEGs to a pipe
// that a splitter cuts at the JPEG markers. ffmpeg writes the next frame
// only when the consumer reads, so memory holds a few frames whatever the
// video's length, and no frame touches the disk. A retried job passes the
// frames it finished: with fps sampling ffmpeg seeks past the leading ones.
// ffmpeg runs in a process group of its own, killed as a whole on
// cancellation, timeout or an iteration stopped early; what it logs at
// error level makes a damaged video a [tasks.CodeInvalidVideo] error, with
// a summary of ffmpeg's words and no server path.
//
// The package disables pdfcpu's configuration directory the first time it
// is used (api.DisableConfigDir), so that pdfcpu never writes config files
// or fonts under the home directory of a server process.
package media
