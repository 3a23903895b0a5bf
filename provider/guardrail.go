package provider

import (
	"regexp"
	"slices"
	"strings"
)

// PII kinds a Guardrail flags.
const (
	PIIEmail = "email"
	PIIPhone = "phone"
	PIICard  = "card_number"
	PIIIBAN  = "iban"
)

// Flag reports one kind of personal data found in a model's answer.
type Flag struct {
	Type  string `json:"type"`
	Count int    `json:"count"`
}

// Guardrail checks model answers for personal data: e-mail addresses,
// phone numbers, payment card numbers (Luhn-checked) and IBANs (mod-97
// checked), and optionally redacts them. The zero value flags without
// redacting.
type Guardrail struct {
	// Redact replaces each finding with "[REDACTED:<type>]".
	Redact bool
}

var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}`)
	// Card numbers: 13 to 19 digits, optionally grouped by spaces or dashes.
	cardRE = regexp.MustCompile(`\b\d(?:[ -]?\d){12,18}\b`)
	// IBAN: country, check digits, then up to 30 alphanumerics, optionally
	// in groups of four.
	ibanRE = regexp.MustCompile(`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}\b`)
	// Phones: international (+ and country code) or North American
	// (NXX-NXX-XXXX); dates and plain numbers do not match.
	phoneRE = regexp.MustCompile(`(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){2,4}|(?:\(\d{3}\) ?|\b\d{3}[.-])\d{3}[.-]\d{4}\b)`)
)

// span is one finding in a text.
type span struct {
	start, end int
	kind       string
}

// Check returns the kinds of personal data in text with their counts, and
// the text with them redacted if g.Redact (else text unchanged).
func (g Guardrail) Check(text string) ([]Flag, string) {
	var found []span
	add := func(re *regexp.Regexp, kind string, valid func(string) bool) {
		for _, m := range re.FindAllStringIndex(text, -1) {
			if valid == nil || valid(text[m[0]:m[1]]) {
				found = append(found, span{m[0], m[1], kind})
			}
		}
	}
	// Most specific first: a card or IBAN is not also a phone number.
	add(ibanRE, PIIIBAN, validIBAN)
	add(cardRE, PIICard, validCard)
	add(emailRE, PIIEmail, nil)
	add(phoneRE, PIIPhone, validPhone)
	if len(found) == 0 {
		return nil, text
	}
	slices.SortStableFunc(found, func(a, b span) int { return a.start - b.start })
	var kept []span
	for _, s := range found {
		if len(kept) > 0 && s.start < kept[len(kept)-1].end {
			continue
		}
		kept = append(kept, s)
	}
	counts := map[string]int{}
	for _, s := range kept {
		counts[s.kind]++
	}
	var flags []Flag
	for _, kind := range []string{PIIEmail, PIIPhone, PIICard, PIIIBAN} {
		if counts[kind] > 0 {
			flags = append(flags, Flag{Type: kind, Count: counts[kind]})
		}
	}
	if !g.Redact {
		return flags, text
	}
	var b strings.Builder
	last := 0
	for _, s := range kept {
		b.WriteString(text[last:s.start])
		b.WriteString("[REDACTED:" + s.kind + "]")
		last = s.end
	}
	b.WriteString(text[last:])
	return flags, b.String()
}

// digits returns the decimal digits of s.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// validCard applies the Luhn check to a 13 to 19 digit number.
func validCard(s string) bool {
	d := digits(s)
	if len(d) < 13 || len(d) > 19 {
		return false
	}
	sum := 0
	for i := range len(d) {
		n := int(d[len(d)-1-i] - '0')
		if i%2 == 1 {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
	}
	return sum%10 == 0
}

// validIBAN applies the ISO 13616 mod-97 check.
func validIBAN(s string) bool {
	s = strings.ReplaceAll(s, " ", "")
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	rearranged := s[4:] + s[:4]
	rem := 0
	for _, r := range rearranged {
		switch {
		case r >= '0' && r <= '9':
			rem = (rem*10 + int(r-'0')) % 97
		case r >= 'A' && r <= 'Z':
			v := int(r-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return false
		}
	}
	return rem == 1
}

// validPhone keeps numbers of 7 to 15 digits (E.164's bound).
func validPhone(s string) bool {
	n := len(digits(s))
	return n >= 7 && n <= 15
}
