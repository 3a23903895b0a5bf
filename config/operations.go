package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/mmq/mmq/tasks"
)

// validateOperations checks the keys that run and guard the deployment:
// auth, monitoring, metrics, limits on batches.
func (c *Config) validateOperations() []error {
	var errs []error
	for _, k := range c.Auth.Keys {
		if _, err := tasks.ParseKeyEntry(k); err != nil {
			errs = append(errs, fmt.Errorf("auth.keys: %w", err))
		}
	}
	for name, q := range c.Quotas {
		if name != tasks.DefaultQuotaTenant && !tasks.ValidTenant(name) {
			errs = append(errs, fmt.Errorf("quotas: %q is not a tenant name (or \"*\" for every other tenant)", name))
		}
		if q.PagesPerDay < 0 || q.USDPerMonth < 0 || q.ConcurrentJobs < 0 {
			errs = append(errs, fmt.Errorf("quotas.%s: pages_per_day, usd_per_month and concurrent_jobs must not be negative (0: no bound)", name))
		}
	}
	if c.Auth.RateLimit < 0 || c.Auth.Burst < 0 {
		errs = append(errs, errors.New("auth.rate_limit and auth.burst must not be negative"))
	}
	if c.Limits.MaxBatchJobs <= 0 || c.Limits.MaxBatchUploadBytes <= 0 {
		errs = append(errs, errors.New("limits.max_batch_jobs and limits.max_batch_upload_bytes must be positive"))
	}
	if m := c.Monitor; m.Enabled {
		root := strings.TrimSuffix(m.Path, "/")
		if !strings.HasPrefix(root, "/") || root == "/v1" || strings.HasPrefix(root, "/v1/") {
			errs = append(errs, fmt.Errorf("monitoring.path %q: want an absolute path other than / and outside /v1, e.g. /monitoring", m.Path))
		}
	}
	switch c.Blobs.Backend {
	case BlobsLocal:
		if c.Blobs.Dir == "" {
			errs = append(errs, errors.New("blobs.dir: empty, with blobs.backend local"))
		}
	case BlobsS3:
		s := c.Blobs.S3
		if s.Endpoint == "" || s.Bucket == "" {
			errs = append(errs, errors.New("blobs.s3.endpoint and blobs.s3.bucket are required with blobs.backend s3"))
		}
		if (s.AccessKey == "") != (s.SecretKey == "") {
			errs = append(errs, errors.New("blobs.s3.access_key and blobs.s3.secret_key go together"))
		}
	default:
		errs = append(errs, fmt.Errorf("blobs.backend %q: want local or s3", c.Blobs.Backend))
	}
	return append(errs, c.validateRedis()...)
}

// validateRedis checks that redis.* names one way to reach Redis.
func (c *Config) validateRedis() []error {
	r := c.Redis
	var errs []error
	if r.Sentinel.MasterName != "" && len(r.Cluster.Addrs) > 0 {
		errs = append(errs, errors.New("redis: set redis.sentinel or redis.cluster, not both"))
	}
	if (r.Sentinel.MasterName != "" || len(r.Cluster.Addrs) > 0) && r.Addr != "" {
		errs = append(errs, fmt.Errorf("redis: redis.addr (%s) is set beside redis.sentinel or redis.cluster; "+
			"unset it (MMQ_REDIS_ADDR) so that the nodes come from one place", r.Addr))
	}
	if (r.Sentinel.MasterName == "") != (len(r.Sentinel.Addrs) == 0) {
		errs = append(errs, errors.New("redis.sentinel: master_name and addrs go together"))
	}
	if r.Mode() == RedisModeCluster {
		if r.DB != 0 {
			errs = append(errs, fmt.Errorf("redis.cluster: a Redis Cluster has only db 0, not %d", r.DB))
		}
		if !clusterPrefix.MatchString(c.Store.Prefix) {
			errs = append(errs, fmt.Errorf("redis.cluster: store.prefix %q must be a hash tag such as {mmq}: "+
				"the store's scripts update a job together with the jobs index, the notification stream and its batch, "+
				"which Redis Cluster allows only within one slot", c.Store.Prefix))
		}
	}
	return errs
}

// clusterPrefix is a store prefix that is a whole hash tag.
var clusterPrefix = regexp.MustCompile(`^\{[^{}]+\}$`)

// Tenants returns the tenants the configuration names, in auth.keys and in
// quotas: the values the metrics' tenant label may take.
func (c *Config) Tenants() []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if n != "" && n != tasks.DefaultQuotaTenant && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	for _, k := range c.Auth.Keys {
		if e, err := tasks.ParseKeyEntry(k); err == nil {
			add(e.Tenant)
		}
	}
	for n := range c.Quotas {
		add(n)
	}
	return names
}
