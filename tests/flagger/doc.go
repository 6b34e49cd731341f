// Package flagger tests the evaluator's Flagger route with Flagger's own code: the Canary of
// infra/flagger is decoded into Flagger's types and its webhooks are called through Flagger's
// controller.CallWebhook (the payload, HTTP client and status rule Flagger uses), against the
// evaluator and the Honeycomb emulator started here. A module of its own because Flagger
// needs newer Kubernetes libraries than the argo-rollouts release tests/argo pins.
package flagger
