package main

import (
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
func newRedisClient(rc config.Redis) redis.UniversalClient {
	switch rc.Mode() {
	case config.RedisModeSentinel:
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: rc.Sentinel.MasterName, SentinelAddrs: rc.Sentinel.Addrs,
			SentinelUsername: rc.Sentinel.Username, SentinelPassword: rc.Sentinel.Password,
			Username: rc.Username, Password: rc.Password, DB: rc.DB,
		})
	case config.RedisModeCluster:
		return redis.NewClusterClient(&redis.ClusterOptions{Addrs: rc.Cluster.Addrs, Username: rc.Username, Password: rc.Password})
	}
	return redis.NewClient(&redis.Options{Addr: rc.Addr, Username: rc.Username, Password: rc.Password, DB: rc.DB})
}

// asynqConnOpt describes the same connection for asynqmon, which opens its
// own.
func asynqConnOpt(rc config.Redis) asynq.RedisConnOpt {
	switch rc.Mode() {
	case config.RedisModeSentinel:
		return asynq.RedisFailoverClientOpt{
			MasterName: rc.Sentinel.MasterName, SentinelAddrs: rc.Sentinel.Addrs,
			SentinelUsername: rc.Sentinel.Username, SentinelPassword: rc.Sentinel.Password,
			Username: rc.Username, Password: rc.Password, DB: rc.DB,
		}
	case config.RedisModeCluster:
		return asynq.RedisClusterClientOpt{Addrs: rc.Cluster.Addrs, Username: rc.Username, Password: rc.Password}
	}
	return asynq.RedisClientOpt{Addr: rc.Addr, Username: rc.Username, Password: rc.Password, DB: rc.DB}
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
