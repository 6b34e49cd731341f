// Command honeycomb-rollouts-plugin is an Argo Rollouts metric provider plugin
// that asks the Honeycomb canary evaluator (POST /v1/evaluate) for a value and
// judges it with the metric's own successCondition/failureCondition.
//
// The controller starts it with go-plugin; it is not meant to be run by hand.
package main

import (
	"os"

	"github.com/argoproj/argo-rollouts/metricproviders/plugin/rpc"
	goPlugin "github.com/hashicorp/go-plugin"
	log "github.com/sirupsen/logrus"

	"github.com/honeycomb-rollouts-evaluator/infra/rollouts-plugin/internal/provider"
)

// handshakeConfig must equal the controller's (metricproviders/plugin/client),
// which is unexported there.
var handshakeConfig = goPlugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "ARGO_ROLLOUTS_RPC_PLUGIN",
	MagicCookieValue: "metricprovider",
}

func main() {
	// stdout carries go-plugin's handshake; the controller relays stderr to its log.
	logger := log.New()
	logger.SetOutput(os.Stderr)
	logger.SetFormatter(&log.JSONFormatter{})

	goPlugin.Serve(&goPlugin.ServeConfig{
		HandshakeConfig: handshakeConfig,
		Plugins: map[string]goPlugin.Plugin{
			"RpcMetricProviderPlugin": &rpc.RpcMetricProviderPlugin{Impl: provider.New(logger)},
		},
	})
}
