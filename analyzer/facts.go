package analyzer

import (
	"strings"
	"unicode"
)

// Text sources, the values of PageFacts.TextSource.
const (
	// TextSourcePDFToText is text from poppler's pdftotext in -layout mode.
	TextSourcePDFToText = "pdftotext"
	// TextSourceNone says the page has no text because none could be
	// extracted: pdftotext failed on the page, or its content decodes to
	// more than the limit (a decompression bomb) and pdftotext was not run.
	// The page's Warnings say which.
	TextSourceNone = "none"
)

// PageFacts is the output of the local analyzer for one page of a document:
// facts computed offline from the single-page PDF, without any model.
type PageFacts struct {
	// Page is the 1-based page number in the original document.
	Page int `json:"page"`
	// WidthPt and HeightPt are the visible page size in points (1/72 inch):
	// the CropBox clipped to the MediaBox (the MediaBox when there is no
	// CropBox), scaled by UserUnit, and swapped when Rotation is 90 or 270,
	// so they describe the page as displayed. Rounded to 0.01 pt.
	WidthPt  float64 `json:"width_pt"`
	HeightPt float64 `json:"height_pt"`
	// Rotation is the clockwise display rotation: 0, 90, 180 or 270.
	Rotation int `json:"rotation"`
	// Text is the page text, its source named by TextSource.
	Text string `json:"text"`
	// TextSource is TextSourcePDFToText, or TextSourceNone when no text
	// could be extracted (Warnings say why).
	TextSource string `json:"text_source"`
	// WordCount counts the whitespace-separated words of Text.
	WordCount int `json:"word_count"`
	// CharCount counts the characters (runes) of Text that are not
	// whitespace, so that -layout padding does not count.
	CharCount int `json:"char_count"`
	// LineCount counts the lines of Text that are not blank.
	LineCount int `json:"line_count"`
	// ImageCount counts the distinct image XObjects the page paints, directly
	// or inside form XObjects. Inline images and soft masks are not counted.
	ImageCount int `json:"image_count"`
	// Fonts are the sorted, distinct base font names the page selects, with
	// subset tags ("ABCDEF+") removed; a Type0 font is named by its
	// descendant. Type3 fonts have no name and are not listed. Never null.
	Fonts []string `json:"fonts"`
	// SHA256 is the hex SHA-256 of the single-page PDF analyzed.
	SHA256 string `json:"sha256"`
	// Warnings say what could not be read or was cut short, for example a
	// pdftotext failure that left the page without text. Omitted when empty.
	Warnings []string `json:"warnings,omitempty"`
}

// setText sets the text, its source and the counts derived from it.
func (f *PageFacts) setText(text, source string) {
	f.Text, f.TextSource = text, source
	f.WordCount = len(strings.Fields(text))
	f.CharCount, f.LineCount = 0, 0
	for line := range strings.Lines(text) {
		if strings.TrimSpace(line) != "" {
			f.LineCount++
		}
	}
	for _, r := range text {
		if !unicode.IsSpace(r) {
			f.CharCount++
		}
	}
}
