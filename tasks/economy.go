package tasks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Mode says how a job's units reach a model provider.
type Mode string

// Modes.
const (
	// ModeRealtime sends each unit as its own call as soon as it is ready
	// (the default).
	ModeRealtime Mode = "realtime"
	// ModeEconomy gathers units of many jobs into the provider's batch API
	// (Anthropic Message Batches, OpenAI Batch): half the price, answered
	// within 24 hours.
	ModeEconomy Mode = "economy"
)

// Valid reports whether m is a mode ("" is realtime).
func (m Mode) Valid() bool { return m == "" || m == ModeRealtime || m == ModeEconomy }

// Economy reports whether the options ask for economy mode.
func (o Options) Economy() bool { return o.Mode == ModeEconomy }

// Economy task types, on QueueEconomy: a gatherer per provider and model
// sends the waiting units as a provider batch; a poller per provider batch
// follows it and imports its results.
const (
	TypeEconomyGather = "economy:gather"
	TypeEconomyPoll   = "economy:poll"
	// QueueEconomy is the asynq queue of the economy tasks.
	QueueEconomy = "economy"
)

// EconomyGatherPayload is the payload of an economy:gather task.
type EconomyGatherPayload struct {
	// Queue is the provider and model whose waiting units to send,
	// "provider/model".
	Queue string `json:"queue"`
}

// EconomyPollPayload is the payload of an economy:poll task.
type EconomyPollPayload struct {
	// Intent is the store's record of the units sent (or about to be) as
	// one provider batch.
	Intent string `json:"intent"`
	// Poll counts the polls before this one, for the backoff.
	Poll int `json:"poll,omitempty"`
}

// EconomyPrep is a unit prepared for a provider batch.
type EconomyPrep struct {
	// Hit is set when the answer cache had the unit: it is never sent, and
	// Hit is its result.
	Hit *Analysis `json:"-"`
	// Provider and Model choose the provider batch the unit joins: one
	// provider batch per provider and model.
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Body is the unit's request as one line of the provider's batch takes
	// it, without the custom_id: Anthropic's "params" object, OpenAI's
	// "body" object of a /v1/chat/completions request.
	Body json.RawMessage `json:"-"`
	// Ticket carries what finishing the answer needs (the plan: model,
	// cache key, schema sum, estimate), opaque to everyone but the
	// provider package. It is stored with the waiting unit.
	Ticket json.RawMessage `json:"ticket,omitempty"`
	// EstimateUSD is the unit's expected cost at the batch price; the
	// worker reserves it against the job's budget.
	EstimateUSD float64 `json:"estimate_usd"`
}

// BatchLine is one request of a provider batch.
type BatchLine struct {
	// CustomID identifies the unit in the batch's results: at most 64 of
	// a-z, A-Z, 0-9, _ and - (both vendors' rule).
	CustomID string
	// Body is EconomyPrep.Body.
	Body json.RawMessage
}

// Provider batch states, reduced to what mmq acts on.
const (
	ProviderBatchInProgress = "in_progress"
	ProviderBatchCanceling  = "canceling"
	// ProviderBatchEnded: processing stopped (done, canceled, expired or
	// failed as a whole); the results, if any, can be read.
	ProviderBatchEnded = "ended"
)

// ProviderBatch is a batch at a provider, as mmq tracks it.
type ProviderBatch struct {
	ID       string `json:"id"`
	Provider string `json:"provider"`
	Model    string `json:"model,omitempty"`
	// Status is one of the ProviderBatch* states.
	Status string `json:"status"`
	// VendorStatus is the provider's own word for it ("in_progress",
	// "ended", "validating", "finalizing", "completed", "failed", ...).
	VendorStatus string             `json:"vendor_status,omitempty"`
	Counts       ProviderBatchCount `json:"counts"`
	CreatedAt    time.Time          `json:"created_at"`
	// Label is the mmq label the batch was created with, where the vendor
	// keeps metadata (OpenAI); "" where it does not (Anthropic).
	Label string `json:"label,omitempty"`
	// Failed is the provider's reason when the batch failed as a whole
	// (OpenAI: validation errors).
	Failed string `json:"failed,omitempty"`
}

// ProviderBatchCount counts a provider batch's requests by outcome.
type ProviderBatchCount struct {
	Processing int `json:"processing"`
	Succeeded  int `json:"succeeded"`
	Errored    int `json:"errored"`
	Canceled   int `json:"canceled"`
	Expired    int `json:"expired"`
}

// Outcomes of one request of a provider batch.
const (
	BatchSucceeded = "succeeded"
	BatchErrored   = "errored"
	BatchCanceled  = "canceled"
	BatchExpired   = "expired"
)

// BatchOutcome is the result of one request of a provider batch.
type BatchOutcome struct {
	CustomID string
	// Result is one of BatchSucceeded, BatchErrored, BatchCanceled,
	// BatchExpired.
	Result string
	// Response is the vendor's answer when Result is BatchSucceeded: the
	// Anthropic Message, or the OpenAI chat completion object.
	Response json.RawMessage
	// Err says why when Result is BatchErrored: CodeProviderRefused (the
	// request was invalid: retrying cannot help) or CodeProviderFailed.
	Err *Error
}

// EconomyUnit is one unit waiting for, or sent in, a provider batch.
type EconomyUnit struct {
	JobID string
	Page  int
	// Ticket is the opaque EconomyPrep.Ticket.
	Ticket json.RawMessage
	// Tries counts the provider batches the unit was sent in whose
	// request for it errored or expired.
	Tries int
}

// Ref is the unit's reference, "JOB_PAGE", which is also its custom_id
// in the provider batch (job ids are UUIDs: 36 characters of the
// vendors' alphabet).
func (u EconomyUnit) Ref() string { return u.JobID + "_" + strconv.Itoa(u.Page) }

// ParseEconomyRef splits a unit reference made by EconomyUnit.Ref.
func ParseEconomyRef(ref string) (jobID string, page int, err error) {
	i := strings.LastIndexByte(ref, '_')
	if i <= 0 {
		return "", 0, fmt.Errorf("tasks: bad economy unit reference %q", ref)
	}
	page, err = strconv.Atoi(ref[i+1:])
	if err != nil || page < 0 {
		return "", 0, fmt.Errorf("tasks: bad economy unit reference %q", ref)
	}
	return ref[:i], page, nil
}

// EconomyQueueName is the queue of the units of provider and model: one
// provider batch gathers units of one queue.
func EconomyQueueName(provider, model string) string { return provider + "/" + model }

// Intent states.
const (
	// IntentCreating: the units are taken; the provider batch may or may
	// not exist yet.
	IntentCreating = "creating"
	// IntentSubmitted: the provider batch's id is recorded.
	IntentSubmitted = "submitted"
)

// EconomyIntent is a set of units taken to be sent as one provider batch,
// recorded before the batch is created.
type EconomyIntent struct {
	ID    string
	Queue string
	Taken time.Time
	// State is IntentCreating until the provider batch's id is recorded,
	// then IntentSubmitted.
	State string
	// Batch is the provider batch's id once submitted.
	Batch string
	// Units counts the units without a result.
	Units int
}

// EconomyQueue is a queue's waiting units.
type EconomyQueue struct {
	Name    string
	Waiting int
	// Oldest is when its oldest unit started waiting (zero when none).
	Oldest time.Time
}
