package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mmq/mmq/config"
	"github.com/mmq/mmq/tasks"
)

// MMQ_QUOTAS takes the quotas as JSON, replacing those of the file.
func TestQuotasFromEnvironment(t *testing.T) {
	yaml := "quotas:\n  acme:\n    pages_per_day: 100\n  \"*\":\n    concurrent_jobs: 2\n"
	tests := []struct {
		name, file, env string
		want            map[string]tasks.Quota
	}{
		{name: "yaml", file: yaml, want: map[string]tasks.Quota{"acme": {PagesPerDay: 100}, "*": {ConcurrentJobs: 2}}},
		{name: "env", env: `{"acme":{"pages_per_day":5,"usd_per_month":1.5},"*":{"concurrent_jobs":3}}`,
			want: map[string]tasks.Quota{"acme": {PagesPerDay: 5, USDPerMonth: 1.5}, "*": {ConcurrentJobs: 3}}},
		{name: "env beats yaml", file: yaml, env: `{"beta":{"concurrent_jobs":1}}`,
			want: map[string]tasks.Quota{"beta": {ConcurrentJobs: 1}}},
		{name: "empty env", env: " ", want: map[string]tasks.Quota{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv("MMQ_QUOTAS", tt.env)
			}
			path := ""
			if tt.file != "" {
				path = writeConfig(t, tt.file)
			}
			c, err := config.Load(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Quotas) != len(tt.want) || (len(tt.want) > 0 && !reflect.DeepEqual(c.Quotas, tt.want)) {
				t.Errorf("Quotas = %+v, want %+v", c.Quotas, tt.want)
			}
		})
	}
}

// A misspelt quota, a malformed value or a bad tenant is refused with the
// key named, never taken for "no bound".
func TestQuotasFromEnvironmentRefused(t *testing.T) {
	for env, want := range map[string]string{
		`{"acme":{"pages_per_dya":5}}`:      `unknown field "pages_per_dya"`,
		`{"acme":{"pages_per_day":"many"}}`: "quotas: want a JSON object",
		`acme=5`:                            "quotas: want a JSON object",
		`{"acme":{}} {}`:                    "text after the JSON object",
		`{"acme!":{"concurrent_jobs":1}}`:   `"acme!" is not a tenant name`,
		`{"acme":{"concurrent_jobs":-1}}`:   "must not be negative",
	} {
		t.Setenv("MMQ_QUOTAS", env)
		_, err := config.Load("", nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("MMQ_QUOTAS=%s: %v; want an error with %q", env, err, want)
		}
	}
}
