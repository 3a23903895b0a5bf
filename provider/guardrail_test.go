package provider_test

import (
	"slices"
	"testing"

	"github.com/mmq/mmq/provider"
)

func TestGuardrail(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, text string
		want       []provider.Flag
		redacted   string
	}{
		{"nothing", "The invoice total is 1,234.56 EUR, due 2024-01-15.", nil, ""},
		{"email", "Write to jane.doe@example.co.uk today.", []provider.Flag{{Type: "email", Count: 1}}, "Write to [REDACTED:email] today."},
		{"valid card", "Card 4111-1111-1111-1111 on file.", []provider.Flag{{Type: "card_number", Count: 1}}, "Card [REDACTED:card_number] on file."},
		{"luhn fails", "Order 4111 1111 1111 1112 shipped.", nil, ""},
		{"iban", "Pay to DE89 3704 0044 0532 0130 00 please.", []provider.Flag{{Type: "iban", Count: 1}}, "Pay to [REDACTED:iban] please."},
		{"bad iban checksum", "Pay to DE88 3704 0044 0532 0130 00 please.", nil, ""},
		{"us phone", "Call (415) 555-2671 or 415-555-2671.", []provider.Flag{{Type: "phone", Count: 2}}, "Call [REDACTED:phone] or [REDACTED:phone]."},
		{"international phone", "Tel: +44 20 7946 0958", []provider.Flag{{Type: "phone", Count: 1}}, "Tel: [REDACTED:phone]"},
		{"several", "a@b.io, b@c.io, 5500 0000 0000 0004", []provider.Flag{{Type: "email", Count: 2}, {Type: "card_number", Count: 1}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			flags, same := provider.Guardrail{}.Check(tt.text)
			if !slices.Equal(flags, tt.want) || same != tt.text {
				t.Errorf("flags %+v, want %+v", flags, tt.want)
			}
			if tt.redacted == "" {
				return
			}
			if _, red := (provider.Guardrail{Redact: true}).Check(tt.text); red != tt.redacted {
				t.Errorf("redacted %q, want %q", red, tt.redacted)
			}
		})
	}
}
