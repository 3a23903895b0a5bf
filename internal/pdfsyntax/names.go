package pdfsyntax

import "github.com/pdfcpu/pdfcpu/pkg/pdfcpu/types"

// ScanNames adds to names every name that occurs in content, in both its
// written and its #-decoded form. It reads bytes, not tokens: names inside
// strings or inline image data are collected too, which over-collects (a
// caller keeping resources by name keeps one too many, harmlessly) but
// never misses one, whatever the stream's strings and binary data hold.
func ScanNames(content []byte, names map[string]bool) {
	for i := 0; i < len(content); i++ {
		if content[i] != '/' {
			continue
		}
		j := i + 1
		for j < len(content) && isRegular(content[j]) {
			j++
		}
		name := string(content[i+1 : j])
		names[name] = true
		if dec, err := types.DecodeName(name); err == nil {
			names[dec] = true
		}
		i = j - 1
	}
}
