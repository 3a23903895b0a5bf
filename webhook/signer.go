package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/tasks"
)

// Header names of a signed request.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// secretPrefix starts every secret.
const secretPrefix = tasks.WebhookSecretPrefix

// ErrBadSecret is wrapped by the errors about a secret that is not
// "whsec_" + base64 of at least 24 bytes.
var ErrBadSecret = tasks.ErrBadWebhookSecret

// Signer signs messages with one or more secrets.
type Signer struct {
	keys []*standardwebhooks.Webhook
}

// NewSigner returns a signer for secret and, during a rotation, the
// previous secrets that receivers may still hold.
func NewSigner(secret string, previous ...string) (*Signer, error) {
	if err := tasks.CheckWebhookSecrets(secret, previous...); err != nil {
		return nil, err
	}
	s := &Signer{}
	for _, sec := range append([]string{secret}, previous...) {
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
		}
		s.keys = append(s.keys, wh)
	}
	return s, nil
}

// NewSecret returns a new random secret of 32 bytes.
func NewSecret() (string, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: new secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// Sign returns the webhook-signature header value of message id sent at ts
// with body: one "v1,<base64>" signature per secret, separated by spaces.
func (s *Signer) Sign(id string, ts time.Time, body []byte) (string, error) {
	sigs := make([]string, len(s.keys))
	for i, k := range s.keys {
		sig, err := k.Sign(id, ts, body)
		if err != nil {
			return "", fmt.Errorf("webhook: sign %s: %w", id, err)
		}
		sigs[i] = sig
	}
	return strings.Join(sigs, " "), nil
}

// SetHeaders sets the three signature headers of message id, sent at ts
// with body, on h.
func (s *Signer) SetHeaders(h http.Header, id string, ts time.Time, body []byte) error {
	sig, err := s.Sign(id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}
