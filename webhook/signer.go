package webhook

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Header names of a signed request.
const (
	HeaderID        = standardwebhooks.HeaderWebhookID
	HeaderTimestamp = standardwebhooks.HeaderWebhookTimestamp
	HeaderSignature = standardwebhooks.HeaderWebhookSignature
)

// secretPrefix starts every secret.
const secretPrefix = "whsec_"

// minKeyBytes is the shortest key accepted: the specification asks for 24
// to 64 random bytes.
const minKeyBytes = 24

// ErrBadSecret is wrapped by the errors about a secret that is not
// "whsec_" + base64 of at least 24 bytes.
var ErrBadSecret = errors.New("webhook: bad secret")

// Signer signs messages with one or more secrets.
type Signer struct {
	keys []*standardwebhooks.Webhook
}

// NewSigner returns a signer for secret and, during a rotation, the
// previous secrets that receivers may still hold.
func NewSigner(secret string, previous ...string) (*Signer, error) {
	s := &Signer{}
	for i, sec := range append([]string{secret}, previous...) {
		if err := checkSecret(sec); err != nil {
			if i > 0 {
				return nil, fmt.Errorf("previous secret %d: %w", i, err)
			}
			return nil, err
		}
		wh, err := standardwebhooks.NewWebhook(sec)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadSecret, err)
		}
		s.keys = append(s.keys, wh)
	}
	return s, nil
}

// checkSecret refuses a secret without the prefix or with a short key.
func checkSecret(secret string) error {
	b64, ok := strings.CutPrefix(secret, secretPrefix)
	if !ok {
		return fmt.Errorf("%w: it must start with %q", ErrBadSecret, secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("%w: what follows %q is not standard base64", ErrBadSecret, secretPrefix)
	}
	if len(key) < minKeyBytes {
		return fmt.Errorf("%w: the key has %d bytes; use at least %d (NewSecret makes one)", ErrBadSecret, len(key), minKeyBytes)
	}
	return nil
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
