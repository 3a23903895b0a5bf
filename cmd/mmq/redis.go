package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/config"
)

// newRedisClient returns the go-redis client redis.* asks for: a failover
// client that follows the primary through Sentinel, a cluster client, or a
// plain one. The store, the queue, asynq's servers and the model cache and
// rate limiter all share it.
func newRedisClient(rc config.Redis, tc *tls.Config) redis.UniversalClient {
	switch rc.Mode() {
	case config.RedisModeSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: rc.Sentinel.MasterName, SentinelAddrs: rc.Sentinel.Addrs,
			SentinelUsername: rc.Sentinel.Username, SentinelPassword: rc.Sentinel.Password,
			Username: rc.Username, Password: rc.Password, DB: rc.DB, TLSConfig: tc,
		})
	case config.RedisModeCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Cluster.Addrs, Username: rc.Username, Password: rc.Password, TLSConfig: tc})
	}
	return redis.NewClient(&redis.Options{Addr: rc.Addr, Username: rc.Username, Password: rc.Password, DB: rc.DB, TLSConfig: tc})
}

// redisTLS is the TLS configuration of redis.tls, or nil for plain TCP.
func redisTLS(t config.RedisTLS) (*tls.Config, error) {
	if !t.Enabled {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.ca_file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis.tls.ca_file %s holds no PEM certificate", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("redis.tls.cert_file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// asynqConnOpt describes the same connection for asynqmon, which opens its
// own.
func asynqConnOpt(rc config.Redis, tc *tls.Config) asynq.RedisConnOpt {
	switch rc.Mode() {
	case config.RedisModeSentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: rc.Sentinel.MasterName, SentinelAddrs: rc.Sentinel.Addrs,
			SentinelUsername: rc.Sentinel.Username, SentinelPassword: rc.Sentinel.Password,
			Username: rc.Username, Password: rc.Password, DB: rc.DB, TLSConfig: tc,
		}
	case config.RedisModeCluster:
		return asynq.RedisClusterClientOpt{Addrs: rc.Cluster.Addrs, Username: rc.Username, Password: rc.Password, TLSConfig: tc}
	}
	return asynq.RedisClientOpt{Addr: rc.Addr, Username: rc.Username, Password: rc.Password, DB: rc.DB, TLSConfig: tc}
}

// describeRedis says where Redis is, for the banner; never the passwords.
func describeRedis(rc config.Redis) string {
	switch rc.Mode() {
	case config.RedisModeSentinel:
		return "sentinel master " + rc.Sentinel.MasterName + " via " + strings.Join(rc.Sentinel.Addrs, ",") + " (db " + strconv.Itoa(rc.DB) + ")"
	case config.RedisModeCluster:
		return "cluster " + strings.Join(rc.Cluster.Addrs, ",")
	}
	return rc.Addr + " (db " + strconv.Itoa(rc.DB) + ")"
}
