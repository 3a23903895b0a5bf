package tasks

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// WebhookSecretPrefix starts every webhook signing secret.
const WebhookSecretPrefix = "whsec_"

// minWebhookKeyBytes is the shortest key accepted: the Standard Webhooks
// specification asks for 24 to 64 random bytes.
const minWebhookKeyBytes = 24

// ErrBadWebhookSecret is wrapped by the errors about a webhook secret that
// is not "whsec_" + base64 of at least 24 bytes.
var ErrBadWebhookSecret = errors.New("webhook: bad secret")

// CheckWebhookSecrets reports the first of secret and the previous secrets
// of a rotation that is not "whsec_" + standard base64 of at least 24
// bytes. Its errors never repeat a secret. The configuration checks the
// secrets with it at start-up; the webhook package's signer, before use.
func CheckWebhookSecrets(secret string, previous ...string) error {
	for i, sec := range append([]string{secret}, previous...) {
		if err := checkWebhookSecret(sec); err != nil {
			if i > 0 {
				return fmt.Errorf("previous secret %d: %w", i, err)
			}
			return err
		}
	}
	return nil
}

func checkWebhookSecret(secret string) error {
	b64, ok := strings.CutPrefix(secret, WebhookSecretPrefix)
	if !ok {
		return fmt.Errorf("%w: it must start with %q", ErrBadWebhookSecret, WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return fmt.Errorf("%w: what follows %q is not standard base64", ErrBadWebhookSecret, WebhookSecretPrefix)
	}
	if len(key) < minWebhookKeyBytes {
		return fmt.Errorf("%w: the key has %d bytes; use at least %d (webhook.NewSecret makes one)", ErrBadWebhookSecret, len(key), minWebhookKeyBytes)
	}
	return nil
}
