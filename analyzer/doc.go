// Package analyzer turns one unit of a job — a single-page PDF or a video
// frame — into a structured result, behind the Analyze method the worker
// calls.
//
// [Local] is the offline analyzer. For a page it reports [PageFacts]: the
// visible size and rotation, the text with word, character and line counts,
// the images painted, the fonts selected and the SHA-256 of the page. pdfcpu
// reads the page (relaxed, without validation or optimization) and walks its
// content stream for the layout facts; poppler's pdftotext provides the
// text, and is required for it, as ffmpeg is for videos: without it every
// page fails with tasks.CodePDFToTextUnavailable (see [Local.Available])
// rather than coming back without text. [Local.PrepareDocument] has the
// text of a whole document's pages read by one pdftotext run a chunk of
// pages instead of one a page. For a video frame it reports [FrameFacts]:
// mean brightness and contrast, the dominant colors, sharpness (the
// variance of the Laplacian) and a 64-bit difference hash (dHash). Once
// every frame of a job is done, [Local.SummarizeFrames] compares each frame
// with the one before, by hash and mean color, to list the near-duplicates
// and the scenes, the time ranges of similar frames.
//
// [Noop] and [Sleep] do no analysis; they stand in for an analyzer in
// benchmarks and fan-out tests.
//
// The package knows tasks and nothing else of mmq: the worker uses it through
// its own Analyzer interface, and cmd/mmq builds it.
package analyzer
