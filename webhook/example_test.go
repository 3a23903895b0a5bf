package webhook_test

import (
	"fmt"
	"net/http"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/mmq/mmq/webhook"
)

// The signature of the Standard Webhooks specification's own example.
func ExampleSigner_Sign() {
	s, err := webhook.NewSigner("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		panic(err)
	}
	sig, err := s.Sign("msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(sig)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=
}

// A receiver verifies mmq's requests with any Standard Webhooks library;
// here the Go one. During a rotation either secret verifies.
func ExampleSigner_SetHeaders() {
	const secret, previous = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"
	s, err := webhook.NewSigner(secret, previous)
	if err != nil {
		panic(err)
	}
	body := []byte(`{"type":"job.succeeded","timestamp":"2026-01-02T15:04:05Z","data":{"job_id":"j1"}}`)
	h := http.Header{}
	if err := s.SetHeaders(h, "msg_1", time.Now(), body); err != nil {
		panic(err)
	}

	// On the receiver's side:
	for _, sec := range []string{secret, previous} {
		wh, _ := standardwebhooks.NewWebhook(sec)
		fmt.Println(wh.Verify(body, h))
	}
	// Output:
	// <nil>
	// <nil>
}
