package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// Economy units.
//
// A unit of an economy job (a page) does not call its provider: it waits,
// with units of other jobs, until a gatherer sends them together as one
// provider batch (tasks.ModeEconomy). What waits is a reference, never the
// page's bytes: the gatherer rebuilds each request from the job's input
// when it creates the batch. Per provider and model ("queue"):
//
//	mmq:economy:units           hash  unit reference -> "" while it waits, its
//	                                  intent once taken: a unit is queued once,
//	                                  however often its job's run is retried
//	mmq:economy:queues          set   the queues with waiting units
//	mmq:economy:q:QUEUE         zset  unit reference ("JOB/PAGE") -> when it
//	                                  started waiting (unix ms), oldest first
//	mmq:economy:t:QUEUE         hash  unit reference -> its ticket
//	                                  (tasks.tasks.EconomyUnit.Ticket)
//
// and per intent, a set of units taken to be sent as one provider batch:
//
//	mmq:economy:intents         zset  intent id -> when it was taken (unix ms)
//	mmq:economy:i:INTENT        hash  queue, taken_ms, state (creating or
//	                                  submitted), batch (the provider's id)
//	mmq:economy:i:INTENT:units  hash  unit reference -> ticket, while the
//	                                  unit has no result
//	mmq:economy:b:BATCH         string the intent of provider batch BATCH
//
// The intent is written before the provider batch is created, so a worker
// that dies between the two leaves an intent in state creating, which the
// next one reconciles with the provider's list of batches: it claims the
// batch it finds (ClaimBatch) or puts the units back (Unsend). A unit is in
// exactly one place at a time, a queue or an intent, since every move is
// one script over the economy keys; the economy keys of a deployment are
// global, so on a Redis Cluster they need the store's prefix to be a hash
// tag, like the jobs index. A unit's result is saved through SavePage,
// which stores a page once: importing a provider batch's results again
// after a crash writes nothing twice.

// ErrIntentClaimed is returned by ClaimBatch for an intent that is
// submitted with another provider batch, or a batch that belongs to
// another intent.
var ErrIntentClaimed = errors.New("store: economy intent already has another provider batch")

func (s *Redis) economyKey(parts ...string) string {
	return s.cfg.Prefix + ":economy:" + strings.Join(parts, ":")
}

func (s *Redis) intentKeys(id string) (record, units string) {
	record = s.economyKey("i", id)
	return record, record + ":units"
}

// economyLua holds the scripts' shared helpers. KEYS are never declared by
// the callers beyond the queue's: every key is built from the prefix, and
// all are global keys of one slot on a cluster (see above).
const economyLua = `
local function ekey(prefix, ...)
	return prefix .. ':economy:' .. table.concat({...}, ':')
end
-- drop_intent deletes an intent and its provider batch's mapping.
local function drop_intent(prefix, intent)
	local record = ekey(prefix, 'i', intent)
	local batch = redis.call('HGET', record, 'batch')
	if batch and batch ~= '' then
		redis.call('DEL', ekey(prefix, 'b', batch))
	end
	redis.call('DEL', record, record .. ':units')
	redis.call('ZREM', ekey(prefix, 'intents'), intent)
end
`

// queueScript adds units to a queue. ARGV: prefix, queue, now_ms, then
// ref, ticket pairs. A unit already waiting keeps its place; the reply is
// the number added.
var queueScript = redis.NewScript(economyLua + `
local prefix, queue, now = ARGV[1], ARGV[2], ARGV[3]
local q, t = ekey(prefix, 'q', queue), ekey(prefix, 't', queue)
local where = ekey(prefix, 'units')
local added = 0
for i = 4, #ARGV, 2 do
	if redis.call('HSETNX', where, ARGV[i], '') == 1 then
		redis.call('ZADD', q, now, ARGV[i])
		redis.call('HSET', t, ARGV[i], ARGV[i + 1])
		added = added + 1
	end
end
redis.call('SADD', ekey(prefix, 'queues'), queue)
return added
`)

// QueueUnits puts units in the queue of their provider and model to wait
// for a provider batch and returns how many it added. A unit already
// waiting or sent is left where it is: a retried run queues nothing twice.
func (s *Redis) QueueUnits(ctx context.Context, queue string, units []tasks.EconomyUnit) (int, error) {
	if len(units) == 0 {
		return 0, nil
	}
	args := make([]any, 0, 3+2*len(units))
	args = append(args, s.cfg.Prefix, queue, time.Now().UnixMilli())
	for _, u := range units {
		args = append(args, u.Ref(), unitValue(u))
	}
	n, err := queueScript.Run(ctx, s.client, []string{s.economyKey("q", queue)}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("store: queue economy units: %w", err)
	}
	return n, nil
}

// takeScript moves the oldest units of a queue into a new intent. ARGV:
// prefix, queue, intent, now_ms, max. The reply is a flat list of ref,
// ticket.
var takeScript = redis.NewScript(economyLua + `
local prefix, queue, intent, now, max = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local q, t = ekey(prefix, 'q', queue), ekey(prefix, 't', queue)
local record = ekey(prefix, 'i', intent)
local state = redis.call('HGET', record, 'state')
if state and state ~= 'creating' then
	return redis.error_reply('intent submitted')
end
local refs = redis.call('ZRANGE', q, 0, max - 1)
if #refs == 0 then
	return {}
end
local out = {}
local units = record .. ':units'
local where = ekey(prefix, 'units')
for _, ref in ipairs(refs) do
	local ticket = redis.call('HGET', t, ref) or '0 '
	redis.call('HSET', units, ref, ticket)
	redis.call('HSET', where, ref, intent)
	out[#out + 1] = ref
	out[#out + 1] = ticket
end
for i = 1, #refs, 500 do
	local j = math.min(i + 499, #refs)
	redis.call('ZREM', q, unpack(refs, i, j))
	redis.call('HDEL', t, unpack(refs, i, j))
end
if redis.call('ZCARD', q) == 0 then
	redis.call('SREM', ekey(prefix, 'queues'), queue)
end
if not state then
	redis.call('HSET', record, 'queue', queue, 'taken_ms', now, 'state', 'creating', 'batch', '')
	redis.call('ZADD', ekey(prefix, 'intents'), now, intent)
end
return out
`)

// TakeUnits moves up to max of the oldest units of queue into the intent
// with the given id (unique; the gatherer makes it), in state
// IntentCreating, and returns them. No units: no intent. A gatherer fills
// a large intent in several takes (a few thousand units each, so that no
// script holds Redis for long); taking into a submitted intent is an error.
func (s *Redis) TakeUnits(ctx context.Context, queue, intent string, max int) ([]tasks.EconomyUnit, error) {
	if max <= 0 {
		return nil, fmt.Errorf("store: take economy units: max %d", max)
	}
	reply, err := takeScript.Run(ctx, s.client, []string{s.economyKey("q", queue)},
		s.cfg.Prefix, queue, intent, time.Now().UnixMilli(), max).StringSlice()
	if err != nil {
		return nil, fmt.Errorf("store: take economy units of %s: %w", queue, err)
	}
	return pairsToUnits(reply)
}

// unitValue is what the economy hashes hold for a unit: its tries, a
// space, its ticket.
func unitValue(u tasks.EconomyUnit) string { return strconv.Itoa(u.Tries) + " " + string(u.Ticket) }

func pairsToUnits(flat []string) ([]tasks.EconomyUnit, error) {
	units := make([]tasks.EconomyUnit, 0, len(flat)/2)
	for i := 0; i+1 < len(flat); i += 2 {
		job, page, err := tasks.ParseEconomyRef(flat[i])
		if err != nil {
			return nil, err
		}
		u := tasks.EconomyUnit{JobID: job, Page: page}
		tries, ticket, _ := strings.Cut(flat[i+1], " ")
		u.Tries, _ = strconv.Atoi(tries)
		if ticket != "" {
			u.Ticket = json.RawMessage(ticket)
		}
		units = append(units, u)
	}
	return units, nil
}

// requeueScript moves units of an intent back to the intent's queue (all
// of them when no ref is given) and deletes the intent once it has none
// left. ARGV: prefix, intent, now_ms, count_try (1/0), refs... The reply is
// the number moved.
var requeueScript = redis.NewScript(economyLua + `
local prefix, intent, now, try = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local record = ekey(prefix, 'i', intent)
local units = record .. ':units'
local queue = redis.call('HGET', record, 'queue')
if not queue then
	return 0
end
local refs = {}
if #ARGV > 4 then
	for i = 5, #ARGV do refs[#refs + 1] = ARGV[i] end
else
	refs = redis.call('HKEYS', units)
end
local q, t = ekey(prefix, 'q', queue), ekey(prefix, 't', queue)
local moved = 0
for _, ref in ipairs(refs) do
	local v = redis.call('HGET', units, ref)
	if v then
		if try == '1' then
			local sp = string.find(v, ' ', 1, true)
			v = tostring(tonumber(string.sub(v, 1, sp - 1)) + 1) .. string.sub(v, sp)
		end
		redis.call('ZADD', q, 'NX', now, ref)
		redis.call('HSET', t, ref, v)
		redis.call('HSET', ekey(prefix, 'units'), ref, '')
		redis.call('HDEL', units, ref)
		moved = moved + 1
	end
end
if moved > 0 then
	redis.call('SADD', ekey(prefix, 'queues'), queue)
end
if redis.call('HLEN', units) == 0 then
	drop_intent(prefix, intent)
end
return moved
`)

// Unsend puts every unit of an intent whose provider batch was never
// created back in its queue, in place, and deletes the intent.
func (s *Redis) Unsend(ctx context.Context, intent string) (int, error) {
	return s.requeue(ctx, intent, false, nil)
}

// Requeue puts the given units of an intent back in its queue to be sent
// again (their requests errored or expired), one more try counted on each;
// the intent is deleted once no unit is left in it.
func (s *Redis) Requeue(ctx context.Context, intent string, units []tasks.EconomyUnit) (int, error) {
	if len(units) == 0 {
		return 0, nil
	}
	return s.requeue(ctx, intent, true, units)
}

func (s *Redis) requeue(ctx context.Context, intent string, try bool, units []tasks.EconomyUnit) (int, error) {
	record, _ := s.intentKeys(intent)
	args := []any{s.cfg.Prefix, intent, time.Now().UnixMilli(), boolArg(try)}
	for _, u := range units {
		args = append(args, u.Ref())
	}
	n, err := requeueScript.Run(ctx, s.client, []string{record}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("store: requeue economy units of %s: %w", intent, err)
	}
	return n, nil
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// claimScript records the provider batch of an intent. ARGV: prefix,
// intent, batch. Replies 1 when recorded now, 0 when it already was, an
// error "claimed" when the intent or the batch belongs to another.
var claimScript = redis.NewScript(economyLua + `
local prefix, intent, batch = ARGV[1], ARGV[2], ARGV[3]
local record = ekey(prefix, 'i', intent)
local state = redis.call('HGET', record, 'state')
if not state then
	return redis.error_reply('missing')
end
local owner = redis.call('GET', ekey(prefix, 'b', batch))
if owner and owner ~= intent then
	return redis.error_reply('claimed')
end
local current = redis.call('HGET', record, 'batch')
if state == 'submitted' then
	if current == batch then return 0 end
	return redis.error_reply('claimed')
end
redis.call('HSET', record, 'state', 'submitted', 'batch', batch)
redis.call('SET', ekey(prefix, 'b', batch), intent)
return 1
`)

// ClaimBatch records that intent was sent as provider batch batch; the
// intent is then IntentSubmitted. Claiming the same pair again is a no-op
// (created reports whether this call recorded it); a different batch for
// the intent, or the batch for another intent, is ErrIntentClaimed. A
// missing intent is ErrNotFound.
func (s *Redis) ClaimBatch(ctx context.Context, intent, batch string) (created bool, err error) {
	if batch == "" {
		return false, errors.New("store: claim economy batch: empty batch id")
	}
	record, _ := s.intentKeys(intent)
	n, err := claimScript.Run(ctx, s.client, []string{record}, s.cfg.Prefix, intent, batch).Int()
	switch {
	case err == nil:
		return n == 1, nil
	case strings.Contains(err.Error(), "claimed"):
		return false, fmt.Errorf("%w: intent %s, batch %s", ErrIntentClaimed, intent, batch)
	case strings.Contains(err.Error(), "missing"):
		return false, &tasks.Error{Code: tasks.CodeNotFound, Message: "economy intent " + intent + " not found", Err: ErrNotFound}
	}
	return false, fmt.Errorf("store: claim economy batch %s: %w", batch, err)
}

// BatchIntent returns the intent of a provider batch, "" when none has it.
func (s *Redis) BatchIntent(ctx context.Context, batch string) (string, error) {
	id, err := s.client.Get(ctx, s.economyKey("b", batch)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return id, err
}

// doneScript drops units that have their result from an intent, and the
// intent once it has none left. ARGV: prefix, intent, refs... Replies the
// units left.
var doneScript = redis.NewScript(economyLua + `
local prefix, intent = ARGV[1], ARGV[2]
local record = ekey(prefix, 'i', intent)
local units = record .. ':units'
for i = 3, #ARGV, 500 do
	local j = math.min(i + 499, #ARGV)
	redis.call('HDEL', units, unpack(ARGV, i, j))
	redis.call('HDEL', ekey(prefix, 'units'), unpack(ARGV, i, j))
end
local left = redis.call('HLEN', units)
if left == 0 then
	drop_intent(prefix, intent)
end
return left
`)

// DoneUnits drops units whose results are saved (or whose jobs ended) from
// an intent, and returns how many are left; the intent goes with its last
// unit.
func (s *Redis) DoneUnits(ctx context.Context, intent string, units []tasks.EconomyUnit) (int, error) {
	record, _ := s.intentKeys(intent)
	args := make([]any, 0, 2+len(units))
	args = append(args, s.cfg.Prefix, intent)
	for _, u := range units {
		args = append(args, u.Ref())
	}
	n, err := doneScript.Run(ctx, s.client, []string{record}, args...).Int()
	if err != nil {
		return 0, fmt.Errorf("store: economy units done in %s: %w", intent, err)
	}
	return n, nil
}

// GetIntent returns an intent; ErrNotFound when it is gone (done, or put
// back).
func (s *Redis) GetIntent(ctx context.Context, intent string) (*tasks.EconomyIntent, error) {
	record, units := s.intentKeys(intent)
	pipe := s.client.Pipeline()
	h := pipe.HGetAll(ctx, record)
	n := pipe.HLen(ctx, units)
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("store: economy intent %s: %w", intent, err)
	}
	f := h.Val()
	if len(f) == 0 {
		return nil, &tasks.Error{Code: tasks.CodeNotFound, Message: "economy intent " + intent + " not found", Err: ErrNotFound}
	}
	ms, _ := strconv.ParseInt(f["taken_ms"], 10, 64)
	return &tasks.EconomyIntent{
		ID: intent, Queue: f["queue"], Taken: time.UnixMilli(ms).UTC(),
		State: f["state"], Batch: f["batch"], Units: int(n.Val()),
	}, nil
}

// Intents lists the intents taken at or before until, oldest first, at
// most limit (the poller's and the reconciler's work list).
func (s *Redis) Intents(ctx context.Context, until time.Time, limit int) ([]*tasks.EconomyIntent, error) {
	ids, err := s.client.ZRangeByScore(ctx, s.economyKey("intents"), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(until.UnixMilli(), 10), Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("store: economy intents: %w", err)
	}
	out := make([]*tasks.EconomyIntent, 0, len(ids))
	for _, id := range ids {
		in, err := s.GetIntent(ctx, id)
		if tasks.ErrorCode(err) == tasks.CodeNotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// IntentUnits calls fn with the units of an intent that have no result,
// in pages of at most 1,000 (HSCAN): a provider batch of 100,000 units is
// never read at once.
func (s *Redis) IntentUnits(ctx context.Context, intent string, fn func([]tasks.EconomyUnit) error) error {
	_, units := s.intentKeys(intent)
	var cursor uint64
	for {
		flat, next, err := s.client.HScan(ctx, units, cursor, "*", 1000).Result()
		if err != nil {
			return fmt.Errorf("store: units of economy intent %s: %w", intent, err)
		}
		us, err := pairsToUnits(flat)
		if err != nil {
			return err
		}
		if len(us) > 0 {
			if err := fn(us); err != nil {
				return err
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// EconomyQueues lists the queues with waiting units, for the gatherer to
// decide which to send (by count, or by the oldest unit's wait).
func (s *Redis) EconomyQueues(ctx context.Context) ([]tasks.EconomyQueue, error) {
	names, err := s.client.SMembers(ctx, s.economyKey("queues")).Result()
	if err != nil {
		return nil, fmt.Errorf("store: economy queues: %w", err)
	}
	pipe := s.client.Pipeline()
	counts := make([]*redis.IntCmd, len(names))
	oldest := make([]*redis.ZSliceCmd, len(names))
	for i, n := range names {
		counts[i] = pipe.ZCard(ctx, s.economyKey("q", n))
		oldest[i] = pipe.ZRangeWithScores(ctx, s.economyKey("q", n), 0, 0)
	}
	if len(names) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			return nil, fmt.Errorf("store: economy queues: %w", err)
		}
	}
	out := make([]tasks.EconomyQueue, 0, len(names))
	for i, n := range names {
		q := tasks.EconomyQueue{Name: n, Waiting: int(counts[i].Val())}
		if z := oldest[i].Val(); len(z) > 0 {
			q.Oldest = time.UnixMilli(int64(z[0].Score)).UTC()
		}
		out = append(out, q)
	}
	return out, nil
}

// DropWaiting removes a job's waiting units from a queue (the job was
// canceled or deleted before they were sent) and returns how many.
func (s *Redis) DropWaiting(ctx context.Context, queue string, units []tasks.EconomyUnit) (int, error) {
	if len(units) == 0 {
		return 0, nil
	}
	refs := make([]any, len(units))
	hrefs := make([]string, len(units))
	for i, u := range units {
		refs[i], hrefs[i] = u.Ref(), u.Ref()
	}
	pipe := s.client.TxPipeline()
	n := pipe.ZRem(ctx, s.economyKey("q", queue), refs...)
	pipe.HDel(ctx, s.economyKey("t", queue), hrefs...)
	pipe.HDel(ctx, s.economyKey("units"), hrefs...)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("store: drop economy units of %s: %w", queue, err)
	}
	return int(n.Val()), nil
}
