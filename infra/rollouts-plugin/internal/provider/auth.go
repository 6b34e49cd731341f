package provider

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// awsRegionInHost finds the region in Function URL and API Gateway hosts, e.g.
// abc.lambda-url.eu-west-1.on.aws or abc.execute-api.eu-west-1.amazonaws.com.
var awsRegionInHost = regexp.MustCompile(`\.(?:lambda-url|execute-api)\.([a-z0-9-]+)\.(?:on\.aws|amazonaws\.com)$`)

// awsCredentials loads the SDK's default credential chain (environment, IRSA
// web identity, Pod Identity, shared config, IMDS) once per process. Its
// CredentialsCache refreshes expiring credentials itself, so every metric
// shares it; loading it per call would ask STS for new credentials each time.
type awsCredentials struct {
	mu     sync.Mutex
	loaded *aws.Config
}

func (a *awsCredentials) config(ctx context.Context) (aws.Config, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded == nil {
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("loading AWS configuration: %w", err)
		}
		a.loaded = &cfg
	}
	return *a.loaded, nil
}

// sign adds a SigV4 Authorization header for the body, including the
// x-amz-content-sha256 payload hash that Function URLs accept for POST bodies.
func (a *awsCredentials) sign(ctx context.Context, req *http.Request, body []byte, cfg Config) error {
	awsCfg, err := a.config(ctx)
	if err != nil {
		return err
	}
	region := cfg.Region
	if region == "" {
		region = awsCfg.Region
	}
	if region == "" {
		if m := awsRegionInHost.FindStringSubmatch(req.URL.Hostname()); m != nil {
			region = m[1]
		}
	}
	if region == "" {
		return fmt.Errorf("sigv4: no region: set region in the plugin config or AWS_REGION in the controller")
	}
	service := cfg.Service
	if service == "" {
		service = defaultService
	}
	if awsCfg.Credentials == nil {
		return fmt.Errorf("sigv4: no AWS credentials found in the default chain")
	}
	creds, err := awsCfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("sigv4: retrieving AWS credentials: %w", err)
	}
	digest := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(digest[:])
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	return v4.NewSigner().SignHTTP(ctx, creds, req, payloadHash, service, region, time.Now().UTC())
}
