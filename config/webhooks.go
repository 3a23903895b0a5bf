package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/viper"

	"github.com/mmq/mmq/tasks"
)

// tenantSecretsKey is the key of Webhooks.TenantSecrets.
const tenantSecretsKey = "webhooks.tenant_secrets"

// decodeTenantSecretsEnv turns webhooks.tenant_secrets from the
// environment, "acme=whsec_…,beta=whsec_…|whsec_…", into the map a config
// file gives, which is all viper can unmarshal into a map.
func decodeTenantSecretsEnv(v *viper.Viper) error {
	s, ok := v.Get(tenantSecretsKey).(string)
	if !ok {
		return nil
	}
	m, err := ParseTenantSecrets(s)
	if err != nil {
		return fmt.Errorf("config: %s: %w", tenantSecretsKey, err)
	}
	v.Set(tenantSecretsKey, m)
	return nil
}

// ParseTenantSecrets parses comma-separated tenant=secret pairs, where a
// secret may be "whsec_new|whsec_old". It checks the form of the pairs
// only; Config.Validate checks the names and the secrets. Its errors never
// repeat a secret.
func ParseTenantSecrets(s string) (map[string]string, error) {
	m := map[string]string{}
	for i, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		// A tenant name has no "=", a secret's base64 may end with some.
		tenant, secret, ok := strings.Cut(pair, "=")
		tenant = strings.TrimSpace(tenant)
		_, dup := m[tenant]
		switch {
		// A pair that starts with a secret lost its tenant: the "=" found
		// ends the secret's base64.
		case !ok || tenant == "" || strings.HasPrefix(tenant, "whsec_"):
			return nil, fmt.Errorf("pair %d: want tenant=whsec_…", i+1)
		case dup:
			return nil, fmt.Errorf("tenant %q given twice", abbreviate(tenant))
		}
		m[tenant] = strings.TrimSpace(secret)
	}
	return m, nil
}

// SecretsByTenant returns TenantSecrets as webhook.Config.TenantSecrets
// wants them: each tenant's secrets, the current one first.
func (w Webhooks) SecretsByTenant() map[string][]string {
	if len(w.TenantSecrets) == 0 {
		return nil
	}
	m := make(map[string][]string, len(w.TenantSecrets))
	for tenant, s := range w.TenantSecrets {
		var secrets []string
		for sec := range strings.SplitSeq(s, "|") {
			secrets = append(secrets, strings.TrimSpace(sec))
		}
		m[tenant] = secrets
	}
	return m
}

// validateTenantSecrets reports bad tenant names and secrets in
// TenantSecrets, naming the tenant, never the secret.
func (w Webhooks) validateTenantSecrets() []error {
	if len(w.TenantSecrets) == 0 {
		return nil
	}
	var errs []error
	if w.Secret == "" {
		errs = append(errs, fmt.Errorf("%s needs webhooks.secret, which signs the webhooks of the other tenants: without it no webhooks are sent", tenantSecretsKey))
	}
	secrets := w.SecretsByTenant()
	for _, tenant := range slices.Sorted(maps.Keys(secrets)) {
		if !tasks.ValidTenant(tenant) {
			errs = append(errs, fmt.Errorf("%s: tenant %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", tenantSecretsKey, abbreviate(tenant)))
			continue
		}
		s := secrets[tenant]
		if err := tasks.CheckWebhookSecrets(s[0], s[1:]...); err != nil {
			errs = append(errs, fmt.Errorf("%s: tenant %s: %w", tenantSecretsKey, tenant, err))
		}
	}
	return errs
}

// abbreviate keeps an error about a tenant name from repeating much of
// what may be a secret pasted in its place.
func abbreviate(name string) string {
	if strings.HasPrefix(name, "whsec_") {
		return "whsec_…"
	}
	if r := []rune(name); len(r) > 16 {
		return string(r[:16]) + "…"
	}
	return name
}
