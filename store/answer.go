package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/mmq/mmq/tasks"
)

// fieldAnswer holds a job's combined answer (scope document).
const fieldAnswer = "answer"

// saveAnswerScript stores a job's combined answer once and adds what making
// it cost to the job's usage, in one step: a second save of the same job
// (a retried task that got past a lost reply) changes nothing.
//
// KEYS: record. ARGV: answer ("" for none: usage only), input tokens,
// output tokens, cost.
var saveAnswerScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if ARGV[1] ~= '' then
  if redis.call('HEXISTS', KEYS[1], 'answer') == 1 then return 0 end
  redis.call('HSET', KEYS[1], 'answer', ARGV[1])
end
redis.call('HINCRBYFLOAT', KEYS[1], 'usage_input_tokens', ARGV[2])
redis.call('HINCRBYFLOAT', KEYS[1], 'usage_output_tokens', ARGV[3])
redis.call('HINCRBYFLOAT', KEYS[1], 'usage_cost_usd', ARGV[4])
return 1
`)

// SaveAnswer stores the combined answer of a job of scope document (nil
// records only the usage of a combining that produced no answer) and adds
// usage to the job's totals. The answer is the combining step's
// checkpoint: a job that has one is never combined again.
func (s *Redis) SaveAnswer(ctx context.Context, id string, answer json.RawMessage, u tasks.Usage) error {
	var buf bytes.Buffer
	if len(answer) > 0 {
		if err := json.Compact(&buf, answer); err != nil {
			return fmt.Errorf("store: answer of job %s is not JSON: %w", id, err)
		}
	}
	err := saveAnswerScript.Run(ctx, s.client, []string{s.keys(id).record},
		buf.String(), u.InputTokens, u.OutputTokens, u.CostUSD).Err()
	return scriptErr(err, "save answer of", id)
}
