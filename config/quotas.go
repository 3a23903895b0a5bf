package config

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spf13/viper"

	"github.com/mmq/mmq/tasks"
)

// quotasKey is the config key of the tenants' quotas.
const quotasKey = "quotas"

// decodeQuotasEnv turns quotas from the environment, MMQ_QUOTAS as a JSON
// object of the form a config file gives,
//
//	{"acme": {"pages_per_day": 1000, "concurrent_jobs": 4}, "*": {"usd_per_month": 50}}
//
// into the map viper can unmarshal (it cannot split a map out of one
// variable). Unknown fields are errors, so a misspelt quota never passes
// for no bound; Config.Validate checks the names and the values.
func decodeQuotasEnv(v *viper.Viper) error {
	s, ok := v.Get(quotasKey).(string)
	if !ok {
		return nil
	}
	m, err := ParseQuotas(s)
	if err != nil {
		return fmt.Errorf("config: %s: %w", quotasKey, err)
	}
	// viper decodes the map with mapstructure, by the fields' names.
	out := make(map[string]any, len(m))
	for tenant, q := range m {
		out[tenant] = map[string]any{
			"pages_per_day": q.PagesPerDay, "usd_per_month": q.USDPerMonth, "concurrent_jobs": q.ConcurrentJobs,
		}
	}
	v.Set(quotasKey, out)
	return nil
}

// ParseQuotas parses the JSON form of the quotas: an object of tenant
// names (or "*") to objects with pages_per_day, usd_per_month and
// concurrent_jobs. An empty string is no quota.
func ParseQuotas(s string) (map[string]tasks.Quota, error) {
	m := map[string]tasks.Quota{}
	if len(bytes.TrimSpace([]byte(s))) == 0 {
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf(`want a JSON object like {"acme":{"pages_per_day":1000},"*":{"concurrent_jobs":4}}: %w`, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("text after the JSON object")
	}
	return m, nil
}
