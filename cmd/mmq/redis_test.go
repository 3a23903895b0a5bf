package main

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/config"
)

// Each redis.* mode builds the matching go-redis client and asynq
// connection option, with every setting passed on.
func TestRedisClientOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		rc     config.Redis
		check  func(t *testing.T, c redis.UniversalClient)
		opt    asynq.RedisConnOpt
		banner string
	}{
		{
			name: "single",
			rc:   config.Redis{Addr: "10.0.0.1:6379", Username: "u", Password: "p", DB: 3},
			check: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.Client).Options()
				if o.Addr != "10.0.0.1:6379" || o.Username != "u" || o.Password != "p" || o.DB != 3 {
					t.Errorf("options %+v", o)
				}
			},
			opt:    asynq.RedisClientOpt{Addr: "10.0.0.1:6379", Username: "u", Password: "p", DB: 3},
			banner: "10.0.0.1:6379 (db 3)",
		},
		{
			name: "sentinel",
			rc: config.Redis{Username: "u", Password: "p", DB: 2, Sentinel: config.RedisSentinel{
				MasterName: "mymaster", Addrs: []string{"s1:26379", "s2:26379"}, Username: "su", Password: "sp"}},
			check: func(t *testing.T, c redis.UniversalClient) {
				// A failover client is a *redis.Client whose dialer asks
				// the sentinels for the primary.
				o := c.(*redis.Client).Options()
				if o.Addr != "FailoverClient" || o.Username != "u" || o.Password != "p" || o.DB != 2 {
					t.Errorf("options %+v", o)
				}
			},
			opt: asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379"},
				SentinelUsername: "su", SentinelPassword: "sp", Username: "u", Password: "p", DB: 2},
			banner: "sentinel master mymaster via s1:26379,s2:26379 (db 2)",
		},
		{
			name: "cluster",
			rc:   config.Redis{Username: "u", Password: "p", Cluster: config.RedisCluster{Addrs: []string{"n1:7000", "n2:7001"}}},
			check: func(t *testing.T, c redis.UniversalClient) {
				o := c.(*redis.ClusterClient).Options()
				if !reflect.DeepEqual(o.Addrs, []string{"n1:7000", "n2:7001"}) || o.Username != "u" || o.Password != "p" {
					t.Errorf("options %+v", o)
				}
			},
			opt:    asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7001"}, Username: "u", Password: "p"},
			banner: "cluster n1:7000,n2:7001",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newRedisClient(tt.rc, nil)
			defer c.Close()
			tt.check(t, c)
			if got := asynqConnOpt(tt.rc, nil); !reflect.DeepEqual(got, tt.opt) {
				t.Errorf("asynq option %#v, want %#v", got, tt.opt)
			}
			// asynqmon needs the option to make a go-redis v9 client.
			if rc, ok := asynqConnOpt(tt.rc, nil).MakeRedisClient().(redis.UniversalClient); !ok {
				t.Errorf("asynq option makes a %T", rc)
			} else {
				rc.Close()
			}
			if got := describeRedis(tt.rc); got != tt.banner || strings.Contains(got, "p)") {
				t.Errorf("banner %q, want %q", got, tt.banner)
			}
		})
	}
}

func TestRedisConfigValidation(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"sentinel", map[string]string{"MMQ_REDIS_SENTINEL_MASTER_NAME": "m", "MMQ_REDIS_SENTINEL_ADDRS": "a:1,b:2"}, ""},
		{"sentinel without addrs", map[string]string{"MMQ_REDIS_SENTINEL_MASTER_NAME": "m"}, "go together"},
		{"sentinel beside addr", map[string]string{"MMQ_REDIS_SENTINEL_MASTER_NAME": "m", "MMQ_REDIS_SENTINEL_ADDRS": "a:1", "MMQ_REDIS_ADDR": "x:1"}, "unset it"},
		{"cluster", map[string]string{"MMQ_REDIS_CLUSTER_ADDRS": "a:1,b:2", "MMQ_STORE_PREFIX": "{mmq}"}, ""},
		{"cluster without a hash tag prefix", map[string]string{"MMQ_REDIS_CLUSTER_ADDRS": "a:1"}, "hash tag"},
		{"cluster with a db", map[string]string{"MMQ_REDIS_CLUSTER_ADDRS": "a:1", "MMQ_STORE_PREFIX": "{mmq}", "MMQ_REDIS_DB": "2"}, "only db 0"},
		{"sentinel and cluster", map[string]string{"MMQ_REDIS_SENTINEL_MASTER_NAME": "m", "MMQ_REDIS_SENTINEL_ADDRS": "a:1",
			"MMQ_REDIS_CLUSTER_ADDRS": "a:1", "MMQ_STORE_PREFIX": "{mmq}"}, "not both"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Environment variables: not parallel.
			t.Setenv("MMQ_REDIS_ADDR", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := config.Load("", nil)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Load: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Load: %v, want an error with %q", err, tt.wantErr)
			case err == nil && tt.name == "sentinel":
				if cfg.Redis.Mode() != config.RedisModeSentinel || !reflect.DeepEqual(cfg.Redis.Sentinel.Addrs, []string{"a:1", "b:2"}) {
					t.Errorf("sentinel from the environment: %+v", cfg.Redis)
				}
			}
		})
	}
}
