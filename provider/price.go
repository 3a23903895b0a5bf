package provider

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Price is what a model costs, in US dollars per million tokens.
type Price struct {
	Input  float64
	Output float64
}

// Prices maps model names to their prices.
type Prices map[string]Price

// ParsePrices reads entries of the form "model=input/output", prices in
// USD per million tokens: "claude-sonnet-4-5=3/15".
func ParsePrices(entries []string) (Prices, error) {
	p := make(Prices, len(entries))
	for _, e := range entries {
		model, pair, ok := strings.Cut(strings.TrimSpace(e), "=")
		in, out, ok2 := strings.Cut(pair, "/")
		if !ok || !ok2 || model == "" {
			return nil, fmt.Errorf("provider: price %q: want model=input/output (USD per million tokens)", e)
		}
		pi, err1 := strconv.ParseFloat(strings.TrimSpace(in), 64)
		po, err2 := strconv.ParseFloat(strings.TrimSpace(out), 64)
		if err1 != nil || err2 != nil || pi < 0 || po < 0 || math.IsInf(pi, 0) || math.IsInf(po, 0) {
			return nil, fmt.Errorf("provider: price %q: prices must be non-negative numbers", e)
		}
		p[strings.TrimSpace(model)] = Price{Input: pi, Output: po}
	}
	return p, nil
}

// Cost returns the cost of a call to model, and whether model has a
// price. A model without one costs 0.
func (p Prices) Cost(model string, in, out int) (float64, bool) {
	pr, ok := p[model]
	if !ok {
		return 0, false
	}
	return (float64(in)*pr.Input + float64(out)*pr.Output) / 1e6, true
}

// answerCost prices a's usage at the model that answered, or the planned
// one when that has no price.
func (p Prices) answerCost(a *answer, planned string) float64 {
	cost, priced := p.Cost(a.Model, a.InputTokens, a.OutputTokens)
	if !priced {
		cost, _ = p.Cost(planned, a.InputTokens, a.OutputTokens)
	}
	return cost
}

// ImageTokens is the estimated token count of one image, by the long side
// in pixels it was downscaled to.
type ImageTokens map[int]int

// At returns the estimate for resolution px: the entry for px, else the
// one of the next larger resolution, else the largest; 0 for an empty table.
func (t ImageTokens) At(px int) int {
	if n, ok := t[px]; ok {
		return n
	}
	keys := make([]int, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if k >= px {
			return t[k]
		}
	}
	if len(keys) == 0 {
		return 0
	}
	return t[keys[len(keys)-1]]
}

// textTokens estimates the tokens of s: about four characters per token,
// the rule of thumb both providers give for English.
func textTokens(s string) int { return charTokens(utf8.RuneCountInString(s)) }

func charTokens(chars int) int { return (chars + 3) / 4 }

// messageOverhead is the tokens a request's framing adds to its prompts
// (roles, block separators).
const messageOverhead = 12
